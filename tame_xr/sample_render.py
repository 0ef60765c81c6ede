"""Rendering of SYNTHETIC all-sky images for :mod:`tame_xr.sample`.

Nothing here is a measurement: the images are drawn from simple geometric models of the six
TAME/OATH classes so that the demo and the tests have data with a known truth. An image is a
fisheye sky disk (radius ``0.48 * size``, black outside) with a dark background that brightens
towards the horizon, a random star field, the class's own feature (auroral bands, glow, clouds,
the moon) and sensor noise. Everything is vectorised with numpy/scipy: one 128×128 image takes
about 2 ms, a 256×256 one about 10 ms.
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image
from scipy import ndimage

CLASS_NAMES: tuple[str, ...] = ("arc", "diffuse", "discrete", "cloudy", "moon", "clear")
"""The six TAME classes, indexed by ``class6``."""

_TWO_PI = 2.0 * np.pi


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Normalised sky coordinates ``x`` (east-west), ``y``, radius ``r`` and the disk mask."""
    centre = (size - 1) / 2.0
    axis = (np.arange(size, dtype=np.float32) - centre) / np.float32(0.48 * size)
    y, x = np.meshgrid(axis, axis, indexing="ij")
    r = np.hypot(x, y)
    mask = r <= 1.0
    for array in (x, y, r, mask):
        array.flags.writeable = False
    return x, y, r, mask


def _to_pixels(size: int, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    centre = (size - 1) / 2.0
    return centre + x * (0.48 * size), centre + y * (0.48 * size)


def _splat(buf: np.ndarray, x: np.ndarray, y: np.ndarray, weight: np.ndarray) -> None:
    """Add point sources at normalised positions ``(x, y)`` into ``buf`` (bilinear weights)."""
    size = buf.shape[0]
    px, py = _to_pixels(size, x, y)
    x0 = np.floor(px).astype(np.intp)
    y0 = np.floor(py).astype(np.intp)
    fx = px - x0
    fy = py - y0
    flat = buf.reshape(-1)
    for dx, dy, share in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi = x0 + dx
        yi = y0 + dy
        ok = (xi >= 0) & (xi < size) & (yi >= 0) & (yi < size)
        flat += np.bincount(yi[ok] * size + xi[ok], (weight * share)[ok], minlength=size * size)


def _blur(buf: np.ndarray, sigma: float) -> np.ndarray:
    return ndimage.gaussian_filter(buf, sigma, mode="constant", truncate=3.0)


def _smooth_noise(rng: np.random.Generator, size: int, octaves: tuple[int, ...]) -> np.ndarray:
    """Multi-octave smooth noise (zero mean, unit variance) from bicubic-upsampled grids."""
    total = np.zeros((size, size), dtype=np.float32)
    for k, res in enumerate(octaves):
        coarse = Image.fromarray(rng.standard_normal((res, res), dtype=np.float32))
        total += np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC)) * 0.5**k
    total -= total.mean()
    return total / (total.std() + 1e-12)


def _smooth_1d(rng: np.random.Generator, n: int, sigma: float) -> np.ndarray:
    """Smooth random series along a curve (unit variance)."""
    series = ndimage.gaussian_filter1d(rng.standard_normal(n), sigma, mode="wrap")
    series -= series.mean()
    return series / (series.std() + 1e-12)


def _stars(rng: np.random.Generator, size: int, count: int, scale: float) -> np.ndarray:
    """Star field: ``count`` point sources, few bright and many faint, blurred slightly."""
    sigma = 0.75
    r = np.sqrt(rng.random(count)) * 0.99
    phi = rng.random(count) * _TWO_PI
    amp = scale * (0.05 + 0.9 * rng.random(count) ** 5) * (1.0 - 0.5 * r**4)
    buf = np.zeros((size, size))
    _splat(buf, r * np.cos(phi), r * np.sin(phi), amp * _TWO_PI * sigma**2)
    return _blur(buf, sigma)


def _curve_weights(amp: np.ndarray, step_px: float, sigma_px: float) -> np.ndarray:
    """Splat weights that give a peak of ``amp`` for a line of points blurred with ``sigma``."""
    return amp * step_px * np.sqrt(_TWO_PI) * sigma_px


def _arcs(rng: np.random.Generator, size: int, intensity: float) -> np.ndarray:
    """One or two quiet arcs: thin east-west bands curving down to the horizon."""
    out = np.zeros((size, size))
    tilt = rng.normal(0.0, 0.25)
    offset = rng.uniform(-0.55, 0.55)
    gap = rng.uniform(0.15, 0.3) * (1.0 if offset < 0 else -1.0)
    n_arcs = 2 if rng.random() < 0.4 else 1
    step_px = 0.5
    n = int(2.0 * 0.48 * size / step_px) + 1
    s = np.linspace(-1.0, 1.0, n)
    for k in range(n_arcs):
        v0 = offset + k * gap
        wobble = 0.02 * _smooth_1d(rng, n, n / 12)
        v = v0 * np.sqrt(np.clip(1.0 - s**2, 0.0, None)) + wobble
        x = s * np.cos(tilt) - v * np.sin(tilt)
        y = s * np.sin(tilt) + v * np.cos(tilt)
        sigma_px = rng.uniform(0.012, 0.025) * size
        peak = 0.5 * intensity * rng.uniform(0.8, 1.2) * (0.6 if k else 1.0)
        amp = peak * (0.85 + 0.15 * _smooth_1d(rng, n, n / 8))
        buf = np.zeros((size, size))
        _splat(buf, x, y, _curve_weights(amp, step_px, sigma_px))
        out += _blur(buf, sigma_px) + 0.2 * _blur(buf, 4 * sigma_px)
    return out


def _discrete(rng: np.random.Generator, size: int, intensity: float) -> np.ndarray:
    """Discrete aurora: bright bands with folds, curls (spirals) and rays.

    Each band runs roughly east-west like an arc, with strong meanders (folds) and one or two
    curls drawn as trochoid loops; rays are short streaks towards the magnetic zenith.
    """
    scale = 0.48 * size
    sigma_px = max(1.0, rng.uniform(0.008, 0.014) * size)
    tilt = rng.normal(0.0, 0.35)
    buf = np.zeros((size, size))
    n = int(8 * 2 * scale)  # dense sampling; the loops move faster than the band
    for band in range(rng.integers(1, 4)):
        lo, hi = (-1.0, 1.0) if band == 0 else np.sort(rng.uniform(-1.0, 1.0, 2))
        s = np.linspace(lo, max(hi, lo + 0.4), n)
        v = rng.uniform(-0.6, 0.6) * np.sqrt(np.clip(1.0 - s**2, 0.0, None))
        v = v + rng.uniform(0.05, 0.15) * _smooth_1d(rng, n, n / 7)
        u = s.copy()
        for _ in range(rng.integers(1, 3)):  # curls: trochoid loops with growing radius
            width = rng.uniform(0.15, 0.35)
            tau = np.clip((s - rng.uniform(lo, hi)) / width, 0.0, 1.0)
            turns = rng.integers(1, 3)
            rho = width / (2 * np.pi) * rng.uniform(1.5, 3.0) * (0.4 + 0.6 * tau)
            sign = rng.choice([-1.0, 1.0])
            u = u - rho * np.sin(2 * np.pi * turns * tau)
            v = v + sign * rho * (1.0 - np.cos(2 * np.pi * turns * tau))
        x = u * np.cos(tilt) - v * np.sin(tilt)
        y = u * np.sin(tilt) + v * np.cos(tilt)
        seg_px = np.hypot(np.gradient(x), np.gradient(y)) * scale
        beads = np.clip(_smooth_1d(rng, n, n / 150), -1.5, None)
        amp = intensity * rng.uniform(0.7, 1.0) * (0.75 + 0.25 * _smooth_1d(rng, n, n / 10))
        amp = np.clip(amp * (1.0 + 0.35 * beads), 0.0, None)
        _splat(buf, x, y, _curve_weights(amp, seg_px, sigma_px))
        # rays: streaks from the band towards the magnetic zenith (near the centre)
        n_rays = rng.integers(15, 40)
        at = rng.integers(0, n, n_rays)
        ray_len = rng.uniform(0.08, 0.25, n_rays)[:, None]
        t = np.linspace(0.0, 1.0, 48)[None, :]
        norm = np.hypot(x[at], y[at]) + 0.3
        rx = x[at, None] - (x[at] / norm)[:, None] * ray_len * t
        ry = y[at, None] - (y[at] / norm)[:, None] * ray_len * t
        ray_step = np.broadcast_to(ray_len * scale / 47.0, rx.shape)
        ray_amp = 0.5 * amp[at, None] * (1.0 - t)
        _splat(buf, rx.ravel(), ry.ravel(), _curve_weights(ray_amp, ray_step, sigma_px).ravel())
    return _blur(buf, sigma_px) + 0.25 * _blur(buf, 5.0 * sigma_px)


def _diffuse(rng: np.random.Generator, size: int, intensity: float) -> np.ndarray:
    """Diffuse aurora: broad smooth low-contrast glow from a few large elongated blobs."""
    x, y, _, _ = _grid(size)
    glow = np.zeros((size, size), dtype=np.float32)
    for _ in range(rng.integers(2, 5)):
        r0 = 0.6 * np.sqrt(rng.random())
        phi0 = rng.random() * _TWO_PI
        ang = rng.normal(0.0, 0.3)
        dx = x - r0 * np.cos(phi0)
        dy = y - r0 * np.sin(phi0)
        u = dx * np.cos(ang) + dy * np.sin(ang)
        v = -dx * np.sin(ang) + dy * np.cos(ang)
        su, sv = rng.uniform(0.4, 0.9), rng.uniform(0.25, 0.5)
        glow += rng.uniform(0.5, 1.0) * np.exp(-0.5 * ((u / su) ** 2 + (v / sv) ** 2))
    glow /= glow.max()
    patchy = 1.0 + 0.2 * _smooth_noise(rng, size, (4, 8))
    return 0.25 * intensity * rng.uniform(0.8, 1.2) * glow * patchy


def _moon(
    rng: np.random.Generator, size: int, at: tuple[float, float] | None
) -> tuple[np.ndarray, np.ndarray]:
    """Moon halo (additive) and the saturated moon disk (boolean)."""
    x, y, _, _ = _grid(size)
    if at is None:
        rad = rng.uniform(0.15, 0.8)
        phi = rng.random() * _TWO_PI
        at = (rad * np.cos(phi), rad * np.sin(phi))
    d = np.hypot(x - at[0], y - at[1])
    halo = rng.uniform(0.5, 0.8) * np.exp(-d / rng.uniform(0.08, 0.15))
    halo += rng.uniform(0.15, 0.3) / (1.0 + (d / rng.uniform(0.3, 0.5)) ** 2)
    return halo + rng.uniform(0.06, 0.12), d < rng.uniform(0.03, 0.05)


def render_sky(
    class6: int,
    rng: np.random.Generator,
    size: int,
    *,
    intensity: float = 1.0,
    moon_at: tuple[float, float] | None = None,
) -> np.ndarray:
    """Render one SYNTHETIC all-sky image of a TAME class.

    Parameters
    ----------
    class6
        Class index into :data:`CLASS_NAMES`: 0 arc, 1 diffuse, 2 discrete, 3 cloudy, 4 moon,
        5 clear.
    rng
        Random generator; it is the only source of randomness (same state, same image).
    size
        Image side in pixels; the sky disk has radius ``0.48 * size``.
    intensity
        Scale of the auroral emission for classes 0-2 and of the faint aurora that may shine
        through the clouds of class 3 (0 for none); ignored for classes 4 and 5.
    moon_at
        Position ``(x, y)`` of the moon for class 4 in units of the disk radius from the
        centre (x to the right, y down); random when None.

    Returns
    -------
    numpy.ndarray
        ``float32`` array of shape ``(size, size)`` with values in [0, 1]; 0 outside the disk.
    """
    class6 = int(class6)
    if not 0 <= class6 < len(CLASS_NAMES):
        raise ValueError(f"class6 must be in 0..5, got {class6}")
    x, y, r, mask = _grid(size)
    density = size / 128.0
    sky = rng.uniform(0.03, 0.06) + rng.uniform(0.03, 0.07) * r**4
    saturated = None
    if class6 == 0:
        sky = sky + _stars(rng, size, int(rng.integers(120, 250) * density), 1.0)
        sky = sky + _arcs(rng, size, intensity)
    elif class6 == 1:
        sky = sky + _stars(rng, size, int(rng.integers(80, 160) * density), 0.45)
        sky = sky + _diffuse(rng, size, intensity)
    elif class6 == 2:
        sky = sky + _stars(rng, size, int(rng.integers(80, 200) * density), 0.8)
        sky = sky + _discrete(rng, size, intensity)
    elif class6 == 3:
        sky = sky + _stars(rng, size, int(rng.integers(150, 300) * density), 1.0)
        if intensity > 0 and rng.random() < 0.5:
            sky = sky + 0.4 * _diffuse(rng, size, intensity)
        cloud = _smooth_noise(rng, size, (3, 6, 12, 24, 48))
        cover = rng.uniform(0.75, 1.0)
        threshold = np.quantile(cloud[mask], 1.0 - cover)
        opacity = 1.0 / (1.0 + np.exp(-4.0 * (cloud - threshold)))
        texture = rng.uniform(0.3, 0.45) + 0.06 * cloud + 0.08 * r**2
        sky = sky * (1.0 - 0.97 * opacity) + opacity * texture
    elif class6 == 4:
        halo, saturated = _moon(rng, size, moon_at)
        sky = sky + halo + _stars(rng, size, int(rng.integers(20, 60) * density), 0.4)
    else:
        sky = sky + _stars(rng, size, int(rng.integers(250, 400) * density), 1.0)
    noise = rng.standard_normal((2, size, size), dtype=np.float32)
    sky = sky + noise[0] * 0.012 + noise[1] * 0.02 * np.sqrt(np.clip(sky, 0.0, None))
    if saturated is not None:
        sky[saturated] = 1.0
    return (np.clip(sky, 0.0, 1.0) * mask).astype(np.float32)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Scale a [0, 1] float image to 0..255 ``uint8`` (rounded)."""
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
