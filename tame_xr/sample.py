"""Deterministic SYNTHETIC demo data for tame_xr, written as raw files in the real formats.

**All data written by this module are synthetic.** They are generated from a random seed by
simple models; no image, field value or cloud height is a measurement. They exist so that the
demo runs offline and the tests have a known ground truth.

:func:`write_sample` writes, under one directory:

``asim/{camera}/5577/{YYYY}/{YYYYMMDD}/{camera}_{YYYYMMDD}_{HHMMSS}_5577_cal.png``
    University of Oslo all-sky imager layout, cameras ``nya6`` (Ny-Ålesund) and ``lyr6``
    (Longyearbyen): 8-bit gray PNGs, one per minute from 17:00 to 00:59 UT on each night from
    2014-12-01; the exposure starts 0-20 s after the minute (the file name has the exact time).
    Ten minutes of ``lyr6`` on the first night are missing on purpose.
``oath/classifications/{classifications,train_test_split}.csv``, ``oath/images/cropped_scaled/``
    The OATH data-set layout: 256×256 RGB PNGs with the signal in the green channel.
``magnetometer/{nya,lyr}{YYYYMMDD}vmin.min``
    IAGA-2002 one-minute files (X, Y, Z, F in nT, CRLF line ends as in INTERMAGNET files), one
    per station per UT day from the first night's date to the day after the last night;
    99999.00 marks a few missing values in the first ``nya`` file.
``ceilometer/{nya,lyr}_ceilometer_{YYYY-MM}.tab``
    PANGAEA tab files with one row per minute for the whole period; an empty ``CBH [m]`` means
    no cloud, and a stretch of 30-60 minutes on the first night has no rows (no measurement).
``truth.csv``
    One row per all-sky image: ``time`` (nominal minute), ``station``, ``exposure_time``,
    ``class6``, ``activity``, ``cloudy``, ``file`` (relative to the directory).

The sky of each station follows a hidden state: a semi-Markov chain of auroral episodes
(10-90 minutes) shared by the two stations with per-station changes and a delay, independent
cloud episodes per station, and the moon on some nights and hours. A scalar auroral activity
index per minute (0 without aurora; about 1 diffuse, 2 arc, 4 discrete, smoothed) sets the
brightness of the aurora in the images and a negative X bay in the magnetometer data.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from .sample_render import CLASS_NAMES, render_sky, to_uint8

__all__ = ["CLASS_NAMES", "OATH_TYPES", "render_sky", "write_sample"]

OATH_TYPES: tuple[str, ...] = ("arc", "diffuse", "discrete", "cloudy", "moon", "noaurora")
"""OATH ``picType`` names by ``class6`` (OATH calls the clear class ``noaurora``)."""

START = dt.datetime(2014, 12, 1)
NIGHT_START = 17 * 60  # first image of a night, minutes after 00:00 UT
NIGHT_MINUTES = 8 * 60  # 17:00 .. 00:59 UT
WAVELENGTH = "5577"
OATH_SIZE = 256
_PNG = {"format": "PNG", "compress_level": 3, "optimize": False}


@dataclass(frozen=True)
class _Site:
    code: str
    camera: str
    iaga: str
    name: str
    latitude: float
    longitude: float
    elevation: int
    baseline: tuple[float, float, float]  # quiet X, Y, Z in nT


SITES = (
    _Site("nya", "nya6", "NYA", "Ny-Alesund", 78.92, 11.93, 7, (8040.0, 420.0, 52650.0)),
    _Site("lyr", "lyr6", "LYR", "Longyearbyen", 78.20, 15.83, 520, (8430.0, 1020.0, 52310.0)),
)

# auroral states: 0 none, 1 diffuse, 2 arc, 3 discrete (ordered by activity)
_AURORA_CLASS = np.array([5, 1, 0, 2])
_AURORA_LEVEL = np.array([0.0, 1.0, 2.0, 4.0])
_AURORA_TRANS = np.array(
    [[0, 0.45, 0.45, 0.10], [0.45, 0, 0.35, 0.20], [0.30, 0.25, 0, 0.45], [0.15, 0.45, 0.40, 0]]
)
# cloud states: 0 none, 1 low (the camera sees clouds), 2 high thin cloud
_CLOUD_TRANS = np.array([[0, 0.6, 0.4], [0.7, 0, 0.3], [0.6, 0.4, 0]])
_CLOUD_DURATION = ((20, 150), (10, 90), (10, 60))


def _semi_markov(
    rng: np.random.Generator,
    n: int,
    trans: np.ndarray,
    durations: tuple[tuple[int, int], ...],
    first: int,
) -> tuple[np.ndarray, np.ndarray]:
    """States per minute and episode number per minute of a semi-Markov chain."""
    states = np.empty(n, dtype=np.intp)
    episode = np.empty(n, dtype=np.intp)
    t, state, k = 0, first, 0
    while t < n:
        lo, hi = durations[state]
        length = int(rng.integers(lo, hi + 1))
        states[t : t + length] = state
        episode[t : t + length] = k
        t, k = t + length, k + 1
        state = int(rng.choice(len(trans), p=trans[state]))
    return states, episode


def _smooth(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    series = ndimage.gaussian_filter1d(rng.standard_normal(n), sigma, mode="nearest")
    series -= series.mean()
    return series / (series.std() + 1e-12)


@dataclass
class _Scenario:
    """Hidden truth: per station, arrays over the period (``days * 1440`` minutes)."""

    days: int
    night: np.ndarray  # period minute index of every night minute
    moon_xy: np.ndarray  # per night minute: moon position in the image (x, y)
    class6: dict[str, np.ndarray]  # per night minute
    present: dict[str, np.ndarray]  # per night minute: image written
    seconds: dict[str, np.ndarray]  # per night minute: exposure start after the minute
    activity: dict[str, np.ndarray]  # per period minute
    cbh: dict[str, np.ndarray]  # per period minute, NaN = no cloud
    ceil_gap: dict[str, tuple[int, int]]  # period minutes without ceilometer rows


def _scenario(rng: np.random.Generator, nights: int) -> _Scenario:
    days = nights + 1
    n_period = days * 1440
    night = (np.arange(nights)[:, None] * 1440 + NIGHT_START + np.arange(NIGHT_MINUTES)).ravel()
    aurora_dur = ((10, 90),) * 4
    # shared auroral driver, one chain per night; per station: some episodes one step weaker
    variants, amp = [], []
    for _ in range(nights):
        state, episode = _semi_markov(rng, NIGHT_MINUTES, _AURORA_TRANS, aurora_dur, 0)
        weaker = rng.random((len(SITES), episode.max() + 1)) < 0.3
        variants.append(np.where(weaker[:, episode], np.maximum(state - 1, 0), state))
        amp.append(rng.uniform(0.7, 1.3, episode.max() + 1)[episode])
    moon = np.zeros((nights, NIGHT_MINUTES), dtype=bool)
    moon_xy = np.full((nights, NIGHT_MINUTES, 2), np.nan)
    for k in range(nights):  # the moon: first night, not the second, then at random
        if k == 0 or (k >= 2 and rng.random() < 0.4):
            start = int(rng.integers(0, 240))
            moon[k, start : start + int(rng.integers(90, 240))] = True
            # circumpolar at Svalbard: fixed zenith distance, azimuth turning once a lunar day
            phi = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(NIGHT_MINUTES) / (24.84 * 60)
            moon_xy[k] = rng.uniform(0.3, 0.7) * np.stack([np.cos(phi), np.sin(phi)], axis=1)
    moon = moon.ravel()
    out = _Scenario(days, night, moon_xy.reshape(-1, 2), {}, {}, {}, {}, {}, {})
    for i, site in enumerate(SITES):
        lag = 0 if i == 0 else int(rng.integers(2, 8))  # lyr sees the same forms a bit later
        keep = NIGHT_MINUTES - lag
        state = np.concatenate([np.r_[np.zeros(lag, np.intp), v[i, :keep]] for v in variants])
        level = np.concatenate([np.r_[np.ones(lag), a[:keep]] for a in amp])
        level = _AURORA_LEVEL[state] * level * rng.uniform(0.85, 1.15)
        level = ndimage.gaussian_filter1d(level, 3.0, mode="nearest")
        level *= 1.0 + 0.15 * _smooth(rng, level.size, 5.0)
        activity = np.zeros(n_period)
        activity[night] = np.where(state > 0, np.clip(level, 0.05, None), 0.0)
        cloud, episode = _semi_markov(rng, n_period, _CLOUD_TRANS, _CLOUD_DURATION, 0)
        low = rng.uniform(250, 1200, episode.max() + 1)[episode] + 80 * _smooth(rng, n_period, 4)
        high = rng.uniform(3200, 7000, episode.max() + 1)[episode] + 150 * _smooth(rng, n_period, 4)
        cbh = np.full(n_period, np.nan)
        cbh[cloud == 1] = np.clip(low, 200, 1500)[cloud == 1]
        cbh[cloud == 2] = np.clip(high, 3000, None)[cloud == 2]
        class6 = _AURORA_CLASS[state]
        class6 = np.where(moon, 4, class6)
        class6 = np.where(cloud[night] == 1, 3, class6)
        present = np.ones(night.size, dtype=bool)
        if i == 1:  # the deliberate 10-minute gap in the images
            gap = int(rng.integers(60, NIGHT_MINUTES - 80))
            present[gap : gap + 10] = False
        ceil_start = NIGHT_START + int(rng.integers(30, NIGHT_MINUTES - 90))
        out.class6[site.code] = class6
        out.present[site.code] = present
        out.seconds[site.code] = rng.integers(0, 21, night.size)
        out.activity[site.code] = activity
        out.cbh[site.code] = cbh
        out.ceil_gap[site.code] = (ceil_start, ceil_start + int(rng.integers(30, 61)))
    return out


def _intensity(activity: float) -> float:
    """Auroral brightness scale for :func:`render_sky` from the activity index."""
    return float(np.clip(0.5 + 0.25 * activity, 0.4, 1.8))


def _save_png(array: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **_PNG)


def _write_asim(
    root: Path, sc: _Scenario, rng: np.random.Generator, size: int
) -> tuple[list[Path], list[list[str]]]:
    """All-sky PNGs in time order (stations interleaved) and the truth rows."""
    paths: list[Path] = []
    rows: list[list[str]] = []
    for j, minute in enumerate(sc.night):
        nominal = START + dt.timedelta(minutes=int(minute))
        for site in SITES:
            if not sc.present[site.code][j]:
                continue
            class6 = int(sc.class6[site.code][j])
            activity = float(sc.activity[site.code][minute])
            if class6 in (0, 1, 2) or (class6 == 3 and activity > 0):
                intensity = _intensity(activity)
            else:
                intensity = 0.0 if class6 == 3 else 1.0
            moon_at = tuple(sc.moon_xy[j]) if class6 == 4 else None
            sky = render_sky(class6, rng, size, intensity=intensity, moon_at=moon_at)
            image = to_uint8(sky)
            exposure = nominal + dt.timedelta(seconds=int(sc.seconds[site.code][j]))
            stamp = exposure.strftime("%Y%m%d_%H%M%S")
            rel = (
                f"asim/{site.camera}/{WAVELENGTH}/{exposure:%Y}/{exposure:%Y%m%d}/"
                f"{site.camera}_{stamp}_{WAVELENGTH}_cal.png"
            )
            _save_png(image, root / rel)
            paths.append(root / rel)
            rows.append(
                [
                    nominal.isoformat(),
                    site.code,
                    exposure.isoformat(),
                    str(class6),
                    f"{activity:.4f}",
                    str(class6 == 3),
                    rel,
                ]
            )
    return paths, rows


_OATH_PREAMBLE = """\
This is a SYNTHETIC data set in the layout of the OATH data set (Clausen and
Nickisch 2018, "Automatic classification of auroral images from the Oslo
Auroral THEMIS (OATH) data set using machine learning").
All images were generated by tame_xr.sample from a random seed: none of them
is a real all-sky image, and no THEMIS or other instrument data are included.
The labels are the classes the images were drawn from, not human judgement.

Licence: CC0-1.0 (Creative Commons Zero v1.0 Universal public domain
dedication, https://creativecommons.org/publicdomain/zero/1.0/).
No permission is needed to copy, modify or distribute these synthetic data.

Acknowledgement: the file layout, the columns and the six classes (arc,
diffuse, discrete, cloudy, moon, noaurora) follow OATH, which is licensed
CC BY 4.0 with image data copyright NASA; cite Clausen and Nickisch (2018)
when referring to the real data set. These synthetic files are only for
demonstrations and tests of the tame_xr software.
"""


def _write_oath(root: Path, rng: np.random.Generator, per_class: int) -> Path:
    """OATH layout: label CSV with preamble, train/test split, green-channel PNGs."""
    oath = root / "oath"
    classes = rng.permutation(np.repeat(np.arange(6), per_class))
    text = _OATH_PREAMBLE.splitlines()
    assert len(text) == 16
    lines = ["-" * 79, *text, "-" * 79, "class2,class6,picNum,picType,rotAng"]
    for k, class6 in enumerate(classes):
        pic = f"{k + 1:05d}"
        rot = int(rng.integers(0, 360))
        lines.append(f"{int(class6 >= 3)},{class6},{pic},{OATH_TYPES[class6]},{rot:03d}")
        rgb = np.zeros((OATH_SIZE, OATH_SIZE, 3), dtype=np.uint8)
        sky = render_sky(int(class6), rng, OATH_SIZE, intensity=float(rng.uniform(0.6, 1.5)))
        rgb[..., 1] = to_uint8(sky)
        _save_png(rgb, oath / "images" / "cropped_scaled" / f"{pic}.png")
    labels = oath / "classifications"
    labels.mkdir(parents=True, exist_ok=True)
    (labels / "classifications.csv").write_text("\n".join(lines) + "\n", encoding="ascii")
    split = np.stack([rng.permutation(classes.size) for _ in range(5)]).astype(float)
    np.savetxt(labels / "train_test_split.csv", split, fmt="%.18e", delimiter=",")
    return oath


def _iaga_header(site: _Site) -> list[str]:
    fields = [
        ("Format", "IAGA-2002"),
        ("Source of Data", "tame_xr.sample (SYNTHETIC data)"),
        ("Station Name", site.name),
        ("IAGA CODE", site.iaga),
        ("Geodetic Latitude", f"{site.latitude:.3f}"),
        ("Geodetic Longitude", f"{site.longitude % 360:.3f}"),
        ("Elevation", str(site.elevation)),
        ("Reported", "XYZF"),
        ("Sensor Orientation", "XYZ"),
        ("Digital Sampling", "1 second"),
        ("Data Interval Type", "filtered 1-minute (00:15-01:45)"),
        ("Data Type", "variation"),
    ]
    comments = [
        "SYNTHETIC DATA generated by tame_xr.sample, not a measurement.",
        "X, Y, Z and F in nT; 99999.00 marks missing values.",
        "The disturbance follows a synthetic auroral activity index.",
        "Licence: CC0-1.0.",
    ]
    c = site.iaga
    return [
        *(f" {key:<23}{value:<45}|" for key, value in fields),
        *(f" # {text:<66}|" for text in comments),
        f"DATE       TIME         DOY     {c}X      {c}Y      {c}Z      {c}F   |",
    ]


def _write_magnetometer(root: Path, sc: _Scenario, rng: np.random.Generator) -> list[Path]:
    """IAGA-2002 day files: quiet diurnal baseline plus an activity-driven bay."""
    paths = []
    minutes = np.arange(sc.days * 1440)
    hours = minutes / 60.0
    for site in SITES:
        x0, y0, z0 = site.baseline
        drive = ndimage.gaussian_filter1d(sc.activity[site.code], 2.0, mode="nearest")
        # bay: about -100 nT per unit of activity, with a slowly varying gain and pulsations,
        # saturating towards -650 nT
        gain = rng.uniform(95.0, 115.0) * np.clip(
            1 + 0.2 * _smooth(rng, minutes.size, 60), 0.5, None
        )
        gain = gain * (1.0 + 0.1 * _smooth(rng, minutes.size, 3.0))
        bay = 650.0 * np.tanh(gain * drive / 650.0)
        drift = [np.cumsum(0.05 * rng.standard_normal(minutes.size)) for _ in range(3)]
        noise = 0.15 * rng.standard_normal((3, minutes.size))
        x = x0 + 10 * np.sin(2 * np.pi * (hours - 3) / 24) - bay
        y = y0 + 4 * np.sin(2 * np.pi * (hours - 9) / 24)
        y = y + 0.25 * bay * np.sin(2 * np.pi * (hours - 20) / 12)
        z = z0 + 6 * np.sin(2 * np.pi * (hours - 1) / 24) - 0.2 * bay
        xyz = np.stack([x, y, z]) + np.stack(drift) + noise
        table = np.vstack([xyz, np.sqrt((xyz**2).sum(axis=0))]).T
        if site.code == "nya":  # a few missing values in the first file
            table[600:603] = 99999.0
            table[700, 3] = 99999.0
        header = _iaga_header(site)
        for day in range(sc.days):
            date = START + dt.timedelta(days=day)
            lines = list(header)
            doy = date.timetuple().tm_yday
            for m in range(1440):
                x, y, z, f = table[day * 1440 + m]
                lines.append(
                    f"{date:%Y-%m-%d} {m // 60:02d}:{m % 60:02d}:00.000 {doy:03d}   "
                    f"{x:10.2f}{y:10.2f}{z:10.2f}{f:10.2f}"
                )
            path = root / "magnetometer" / f"{site.iaga.lower()}{date:%Y%m%d}vmin.min"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(("\r\n".join(lines) + "\r\n").encode("ascii"))
            paths.append(path)
    return paths


def _write_ceilometer(root: Path, sc: _Scenario) -> list[Path]:
    """PANGAEA tab files: one row per minute, empty CBH for no cloud, one stretch of no rows."""
    paths = []
    end = START + dt.timedelta(minutes=sc.days * 1440 - 1)
    for site in SITES:
        gap = sc.ceil_gap[site.code]
        rows = []
        for m, value in enumerate(sc.cbh[site.code]):
            if gap[0] <= m < gap[1]:
                continue
            time = START + dt.timedelta(minutes=m)
            rows.append(f"{time:%Y-%m-%dT%H:%M}\t{'' if np.isnan(value) else int(round(value))}")
        where = f"LATITUDE: {site.latitude:.6f} * LONGITUDE: {site.longitude:.6f}"
        header = [
            "/* DATA DESCRIPTION:",
            f"Citation:\ttame_xr.sample: SYNTHETIC ceilometer cloud base height at {site.name} "
            f"({START:%Y-%m}). Generated data, not a measurement.",
            f"Coverage:\t{where}",
            f"\tDATE/TIME START: {START:%Y-%m-%dT%H:%M:%S} * DATE/TIME END: {end:%Y-%m-%dT%H:%M:%S}",
            f"Event(s):\t{site.iaga}_ceilometer * {where} * METHOD/DEVICE: Ceilometer (CEILO)",
            "Parameter(s):\tDATE/TIME (Date/Time) * GEOCODE",
            "\tCloud base height (CBH) [m] * METHOD/DEVICE: Ceilometer (CEILO) * "
            "COMMENT: empty = no cloud detected",
            "License:\tCreative Commons Zero v1.0 Universal (CC0-1.0)",
            f"Size:\t{len(rows)} data points",
            "*/",
            "Date/Time\tCBH [m]",
        ]
        path = root / "ceilometer" / f"{site.code}_ceilometer_{START:%Y-%m}.tab"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(header + rows) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def write_sample(
    directory: str | Path,
    seed: int = 0,
    *,
    nights: int = 2,
    image_size: int = 128,
    oath_per_class: int = 60,
) -> dict[str, list[Path]]:
    """Write the SYNTHETIC demo data set under ``directory``.

    Parameters
    ----------
    directory
        Output directory (created if needed; files of an earlier run are overwritten).
    seed
        Seed of the ``numpy`` PCG64 generator; the same seed gives byte-identical files.
    nights
        Number of nights from 2014-12-01, each 17:00-00:59 UT with one image per minute and
        station.
    image_size
        Side of the all-sky PNGs in pixels (OATH images are always 256×256).
    oath_per_class
        Number of OATH-layout images per class.

    Returns
    -------
    dict
        Written paths by kind: ``"asim"`` (PNGs), ``"oath"`` (the OATH root directory),
        ``"magnetometer"`` (IAGA-2002 files), ``"ceilometer"`` (PANGAEA files) and
        ``"truth"`` (the truth CSV).
    """
    if nights < 1 or image_size < 16 or oath_per_class < 1:
        raise ValueError("nights and oath_per_class must be >= 1 and image_size >= 16")
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    scenario_rng, image_rng, oath_rng, magn_rng = np.random.Generator(np.random.PCG64(seed)).spawn(
        4
    )
    sc = _scenario(scenario_rng, nights)
    asim, rows = _write_asim(root, sc, image_rng, image_size)
    truth = root / "truth.csv"
    with truth.open("w", newline="", encoding="ascii") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(
            ["time", "station", "exposure_time", "class6", "activity", "cloudy", "file"]
        )
        writer.writerows(rows)
    return {
        "asim": asim,
        "oath": [_write_oath(root, oath_rng, oath_per_class)],
        "magnetometer": _write_magnetometer(root, sc, magn_rng),
        "ceilometer": _write_ceilometer(root, sc),
        "truth": [truth],
    }


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(description="Write the SYNTHETIC tame_xr demo data.")
    parser.add_argument("directory")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--nights", type=int, default=2)
    args = parser.parse_args()
    written = write_sample(args.directory, args.seed, nights=args.nights)
    print({kind: len(paths) for kind, paths in written.items()})
