"""Tests of the synthetic demo-data generator :mod:`tame_xr.sample`."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage

from tame_xr.sample import CLASS_NAMES, OATH_TYPES, render_sky, write_sample

SMALL = {"nights": 1, "image_size": 32, "oath_per_class": 2}


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict[str, list[Path]]]:
    root = tmp_path_factory.mktemp("sample")
    return root, write_sample(root, seed=3, nights=1, image_size=64, oath_per_class=4)


def _digests(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_files(tmp_path):
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        write_sample(tmp_path / name, seed=seed, **SMALL)
    a, b, c = (_digests(tmp_path / name) for name in "abc")
    assert a == b
    for kind in ("asim/", "oath/", "magnetometer/", "ceilometer/", "truth.csv"):
        assert any(k.startswith(kind) for k in a)
    same_names = set(a) & set(c)
    assert sum(a[k] != c[k] for k in same_names) > 0.9 * len(same_names)


def test_kinds_and_counts(sample):
    root, written = sample
    assert set(written) == {"asim", "oath", "magnetometer", "ceilometer", "truth"}
    assert all(written[kind] for kind in written)
    truth = pd.read_csv(written["truth"][0], parse_dates=["time", "exposure_time"])
    pngs = sorted((root / "asim").rglob("*.png"))
    assert len(truth) == len(pngs) == len(written["asim"])
    assert {root / f for f in truth["file"]} == set(pngs)
    assert list(truth.columns) == [
        "time",
        "station",
        "exposure_time",
        "class6",
        "activity",
        "cloudy",
        "file",
    ]
    # one image per minute and station from 17:00 to 00:59 UT, minus a 10-minute gap at lyr
    assert truth.groupby("station").size().to_dict() == {"nya": 480, "lyr": 470}
    offset = (truth["exposure_time"] - truth["time"]).dt.total_seconds()
    assert offset.between(0, 20).all() and offset.nunique() > 10
    name = Path(truth["file"][0]).name
    assert name == f"nya6_{truth['exposure_time'][0]:%Y%m%d_%H%M%S}_5577_cal.png"
    assert truth["file"][0].startswith("asim/nya6/5577/2014/20141201/")
    assert (truth["cloudy"] == (truth["class6"] == 3)).all()
    assert (truth.loc[truth["class6"] == 5, "activity"] == 0).all()
    with Image.open(pngs[0]) as im:
        assert im.mode == "L" and im.size == (64, 64)
    assert len(written["magnetometer"]) == 4  # 2 stations x (1 night + the day after)


def test_oath_layout(sample):
    _, written = sample
    oath = written["oath"][0]
    lines = (oath / "classifications" / "classifications.csv").read_text().splitlines()
    assert lines[0] == lines[17] == "-" * 79
    assert "SYNTHETIC" in "\n".join(lines[1:17]) and "CC0-1.0" in "\n".join(lines[1:17])
    labels = pd.read_csv(
        oath / "classifications" / "classifications.csv", skiprows=18, dtype={"picNum": str}
    )
    assert list(labels.columns) == ["class2", "class6", "picNum", "picType", "rotAng"]
    assert len(labels) == 6 * 4 and sorted(set(labels["class6"])) == list(range(6))
    assert (labels["picType"] == [OATH_TYPES[c] for c in labels["class6"]]).all()
    assert (labels["class2"] == (labels["class6"] >= 3)).all()
    assert labels["picNum"].tolist() == [f"{k:05d}" for k in range(1, 25)]
    split = np.loadtxt(oath / "classifications" / "train_test_split.csv", delimiter=",")
    assert split.shape == (5, 24)
    assert all(sorted(row) == list(range(24)) for row in split)
    for pic in labels["picNum"][:6]:
        with Image.open(oath / "images" / "cropped_scaled" / f"{pic}.png") as im:
            assert im.mode == "RGB" and im.size == (256, 256)
            rgb = np.asarray(im)
        assert rgb[..., 0].max() == 0 and rgb[..., 2].max() == 0 and rgb[..., 1].max() > 0


def _star_count(img: np.ndarray) -> int:
    peak = img == ndimage.maximum_filter(img, 3)
    return int((peak & (img - ndimage.median_filter(img, 5) > 0.08)).sum())


def _elongation(img: np.ndarray, mask: np.ndarray) -> float:
    smooth = ndimage.gaussian_filter(img, 2.0)
    rows, cols = np.nonzero((smooth >= np.quantile(smooth[mask], 0.97)) & mask)
    low, high = np.linalg.eigvalsh(np.cov(np.stack([cols, rows])))
    return high / low


def test_classes_are_visibly_different():
    size = 128
    rng = np.random.Generator(np.random.PCG64(11))
    images = {c: [render_sky(c, rng, size) for _ in range(6)] for c in range(6)}
    for stack in images.values():
        assert all(i.dtype == np.float32 and i.shape == (size, size) for i in stack)
        assert all(i.min() >= 0 and i.max() <= 1 and i[0, 0] == 0 for i in stack)
    yy, xx = np.mgrid[:size, :size]
    mask = np.hypot(xx - 63.5, yy - 63.5) < 0.45 * size
    arc, diffuse, discrete, cloudy, moon, clear = (images[c] for c in range(6))
    assert CLASS_NAMES[4] == "moon" and CLASS_NAMES[5] == "clear"
    # the moon brightens the sky; clouds hide the stars
    assert min(i[mask].mean() for i in moon) > 2 * max(i[mask].mean() for i in clear)
    assert np.mean([_star_count(i) for i in cloudy]) < 0.4 * np.mean(
        [_star_count(i) for i in clear]
    )
    # an arc is a long thin band; the moon a round spot
    assert min(_elongation(i, mask) for i in arc) > 10
    assert max(_elongation(i, mask) for i in moon + clear) < 5

    # discrete forms have fine structure, diffuse aurora has none
    def fine(i: np.ndarray) -> float:
        return float(np.quantile(np.abs(i - ndimage.gaussian_filter(i, 3)), 0.995))

    assert min(fine(i) for i in discrete) > 2 * max(fine(i) for i in diffuse)


def _read_iaga(path: Path) -> tuple[list[str], pd.DataFrame]:
    lines = path.read_bytes().decode("ascii").split("\r\n")
    assert lines[-1] == ""
    n_header = next(k for k, line in enumerate(lines) if line.startswith("DATE "))
    rows = [
        (line[:19], *(float(line[31 + 10 * k : 40 + 10 * k]) for k in range(4)))
        for line in lines[n_header + 1 : -1]
    ]
    data = pd.DataFrame(rows, columns=["time", "x", "y", "z", "f"])
    data["time"] = pd.to_datetime(data["time"])
    return lines[: n_header + 1], data.replace(99999.0, np.nan)


def test_iaga2002_layout_and_disturbance(sample):
    root, written = sample
    truth = pd.read_csv(root / "truth.csv", parse_dates=["time"])
    names = sorted(p.name for p in written["magnetometer"])
    assert names == [
        "lyr20141201vmin.min",
        "lyr20141202vmin.min",
        "nya20141201vmin.min",
        "nya20141202vmin.min",
    ]
    missing = 0
    for station in ("nya", "lyr"):
        frames = []
        for path in sorted(root.glob(f"magnetometer/{station}*vmin.min")):
            header, data = _read_iaga(path)
            assert header[0] == f" {'Format':<23}{'IAGA-2002':<45}|"
            assert all(len(line) == 70 and line.endswith("|") for line in header)
            assert header[3].split()[2] == station.upper()
            c = station.upper()
            assert (
                header[-1]
                == f"DATE       TIME         DOY     {c}X      {c}Y      {c}Z      {c}F   |"
            )
            assert len(data) == 1440 and data["time"].diff().dropna().eq(pd.Timedelta("1min")).all()
            missing += int(data[["x", "y", "z", "f"]].isna().sum().sum())
            frames.append(data)
        data = pd.concat(frames)
        ok = data.dropna()
        assert np.allclose(np.sqrt(ok.x**2 + ok.y**2 + ok.z**2), ok.f, atol=0.02)
        joined = truth[truth["station"] == station].merge(data, on="time").dropna()
        assert len(joined) > 400
        assert np.corrcoef(joined["x"], joined["activity"])[0, 1] < -0.7
        active = joined["activity"] > 0
        bay = joined.loc[active, "x"].median() - joined.loc[~active, "x"].median()
        assert -600 < bay < -50
    assert missing > 0


def test_ceilometer_follows_clouds(sample):
    root, written = sample
    truth = pd.read_csv(root / "truth.csv", parse_dates=["time"])
    for station in ("nya", "lyr"):
        path = root / "ceilometer" / f"{station}_ceilometer_2014-12.tab"
        assert path in written["ceilometer"]
        text = path.read_text(encoding="utf-8")
        assert text.startswith("/* DATA DESCRIPTION:\n") and "\n*/\nDate/Time\tCBH [m]\n" in text
        table = pd.read_csv(
            path, sep="\t", skiprows=text.splitlines().index("*/") + 1, parse_dates=["Date/Time"]
        )
        assert list(table.columns) == ["Date/Time", "CBH [m]"]
        cbh = table.set_index("Date/Time")["CBH [m]"]
        assert cbh.isna().any()  # no cloud
        step = cbh.index.to_series().diff().dropna()
        assert (step >= pd.Timedelta("30min")).sum() == 1  # one stretch without measurements
        joined = truth[truth["station"] == station].join(cbh, on="time", how="inner")
        cloudy = joined["cloudy"]
        assert cloudy.any() and (~cloudy).any()
        assert joined.loc[cloudy, "CBH [m]"].between(200, 1500).all()
        clear_cbh = joined.loc[~cloudy, "CBH [m]"]
        assert (clear_cbh.isna() | (clear_cbh >= 3000)).all()
