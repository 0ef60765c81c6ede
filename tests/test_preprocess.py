"""tame_xr.preprocess against a straightforward per-image numpy/PIL reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tame_xr.preprocess import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    STATISTICS,
    image_statistics,
    normalized_gray,
    preprocess,
    sky_mask,
    to_gray,
)

# torch's antialiased bilinear vs PIL's BILINEAR on float32 planes differ by ≤ ~1.2e-5 on
# [0, 1] data, upscaling included (both are the same triangle filter); 1e-4 holds.
ATOL_UNIT = 1e-4
STATS_RTOL, STATS_ATOL = 1e-5, 0.0


def ref_mask(h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    return np.hypot(y - (h - 1) / 2, x - (w - 1) / 2) <= 0.5 * min(h, w)


def ref_gray(image: np.ndarray, channel: int | None) -> np.ndarray:
    if image.ndim == 2:
        return image.astype(np.float64)
    if channel is not None:
        return image[..., channel].astype(np.float64)
    r, g, b = (image[..., i].astype(np.float32) for i in range(3))
    luma = r * np.float32(0.299) + g * np.float32(0.587) + b * np.float32(0.114)
    return luma.astype(np.float64)


def ref_unit(image: np.ndarray, channel: int | None = None) -> np.ndarray:
    """TAME's [0, 1] gray plane of one image, before resizing."""
    gray = ref_gray(image, channel)
    mask = ref_mask(*gray.shape)
    gray = np.where(mask, gray, 0.0)
    lo, hi = np.percentile(gray[mask], [0.5, 99.5])
    unit = (np.clip(gray, lo, hi) - lo) / (hi - lo) if hi > lo else np.zeros_like(gray)
    unit[~mask] = 0.0
    return unit


def ref_preprocess(image: np.ndarray, channel: int | None = None, size: int = 224) -> np.ndarray:
    unit = ref_unit(image, channel).astype(np.float32)
    green = np.asarray(Image.fromarray(unit).resize((size, size), Image.BILINEAR))
    planes = [np.zeros_like(green), green, np.zeros_like(green)]
    return np.stack(
        [(p - m) / s for p, m, s in zip(planes, IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    )


def ref_statistics(image: np.ndarray, channel: int | None = None, bins: int = 128) -> np.ndarray:
    full = {np.uint8: 255.0, np.uint16: 65535.0}.get(image.dtype.type, 1.0)
    gray = ref_gray(image, channel)
    values = np.clip(gray[ref_mask(*gray.shape)] / full, 0, 1)
    counts, _ = np.histogram(values, bins=bins, range=(0, 1))
    p = counts / counts.sum()
    c = (np.arange(bins) + 0.5) / bins
    full_bins = np.flatnonzero(counts)
    median = c[np.searchsorted(np.cumsum(counts), counts.sum() / 2)]
    mean = np.sum(p * c)
    var = np.sum(p * (c - mean) ** 2)
    skew = np.sum(p * (c - mean) ** 3) / var**1.5 if var > 0 else 0.0
    kurt = np.sum(p * (c - mean) ** 4) / var**2 - 3 if var > 0 else 0.0
    nz = p[p > 0]
    entropy = -np.sum(nz * np.log2(nz))
    energy = np.sum(p**2)
    return np.array(
        [c[full_bins[0]], c[full_bins[-1]], median, mean, var, skew, kurt, entropy, energy]
    )


def zero_level(c: int) -> float:
    """(0 - mean) / std of channel c in float32 arithmetic."""
    return float((np.float32(0) - np.float32(IMAGENET_MEAN[c])) / np.float32(IMAGENET_STD[c]))


def to_unit_scale(pixels: np.ndarray) -> np.ndarray:
    """Undo the ImageNet normalisation of the green channel."""
    return pixels[:, 1] * IMAGENET_STD[1] + IMAGENET_MEAN[1]


def batch(rng, n, h, w, dtype, rgb=False):
    top = np.iinfo(dtype).max
    shape = (n, h, w, 3) if rgb else (n, h, w)
    images = rng.integers(0, top, shape, dtype=dtype, endpoint=True)
    # smooth structure too, so the percentiles are not just the extremes of noise
    ramp = np.linspace(0, top / 2, w, dtype=np.float64)
    images = (images // 2 + (ramp[:, None] if rgb else ramp)).astype(dtype)
    return images


def saturated(rng, n, h, w, dtype):
    images = batch(rng, n, h, w, dtype)
    top = np.iinfo(dtype).max
    images[:, : h // 3, : w // 2] = top  # a large saturated region: ties at the 99.5 percentile
    images[:, -h // 4 :, w // 3 :] = 0
    return images


def check_against_reference(images, channel=None):
    got = preprocess(images, channel=channel).numpy()
    want = np.stack([ref_preprocess(im, channel) for im in images])
    assert got.dtype == np.float32 and got.shape == want.shape
    np.testing.assert_allclose(to_unit_scale(got), to_unit_scale(want), rtol=0, atol=ATOL_UNIT)
    np.testing.assert_allclose(got, want, rtol=0, atol=ATOL_UNIT / min(IMAGENET_STD))
    stats = image_statistics(images, channel=channel).numpy()
    want_stats = np.stack([ref_statistics(im, channel) for im in images])
    assert stats.dtype == np.float32 and stats.shape == (len(images), len(STATISTICS))
    np.testing.assert_allclose(stats, want_stats, rtol=STATS_RTOL, atol=STATS_ATOL)


@pytest.mark.parametrize("size", [128, 469, 512])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_gray_matches_reference(size, dtype):
    rng = np.random.default_rng(size)
    check_against_reference(batch(rng, 3, size, size, dtype))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_saturated_matches_reference(dtype):
    check_against_reference(saturated(np.random.default_rng(3), 3, 300, 280, dtype))


@pytest.mark.parametrize("channel", [1, None])
def test_rgb_matches_reference(channel):
    images = batch(np.random.default_rng(4), 3, 160, 200, np.uint8, rgb=True)
    check_against_reference(images, channel=channel)
    if channel is not None:
        gray = np.ascontiguousarray(images[..., channel])
        assert torch.equal(preprocess(images, channel=channel), preprocess(gray))


def test_float_input_matches_reference():
    images = np.random.default_rng(5).random((2, 90, 90)).astype(np.float32)
    check_against_reference(images)
    assert preprocess(images.astype(np.float64)).dtype == torch.float32
    assert image_statistics(images.astype(np.float64)).dtype == torch.float32


def test_input_layouts_agree():
    images = batch(np.random.default_rng(10), 2, 64, 80, np.uint16)
    want, want_stats = preprocess(images), image_statistics(images)
    for variant in (
        images.astype(">u2"),  # big-endian, as some readers return
        torch.from_numpy(images).transpose(1, 2).contiguous().transpose(1, 2),  # strided
    ):
        assert torch.equal(preprocess(variant), want)
        assert torch.equal(image_statistics(variant), want_stats)


def test_constant_images():
    images = np.stack([np.full((64, 64), v, np.uint8) for v in (0, 7, 255)])
    check_against_reference(images)
    assert (normalized_gray(images) == 0).all()
    stats = image_statistics(images).numpy()
    c = (np.array([0, 3, 127]) + 0.5) / 128  # 7/255 falls in bin 3
    for name in ("min", "max", "median", "mean"):
        np.testing.assert_allclose(stats[:, STATISTICS.index(name)], c, rtol=1e-6)
    for name in ("variance", "skewness", "kurtosis", "entropy"):
        assert (stats[:, STATISTICS.index(name)] == 0).all()
    assert (stats[:, STATISTICS.index("energy")] == 1).all()


def test_median_at_exact_half():
    image = np.zeros((1, 40, 40), np.uint8)
    mask = np.zeros((40, 40), bool)
    mask[:10] = True
    image[0, 5:10] = 255  # half of the masked pixels 0, half 255
    stats = image_statistics(image, mask=mask)[0]
    assert stats[STATISTICS.index("median")] == pytest.approx(0.5 / 128)
    assert stats[STATISTICS.index("entropy")] == pytest.approx(1.0)
    assert stats[STATISTICS.index("energy")] == pytest.approx(0.5)


def test_batch_independence():
    images = saturated(np.random.default_rng(6), 5, 200, 200, np.uint16)
    images[2] = 1000  # a constant image in the middle of the batch
    whole = preprocess(images)
    stats = image_statistics(images)
    for i in range(len(images)):
        alone = preprocess(images[i : i + 1])
        torch.testing.assert_close(alone[0], whole[i], rtol=0, atol=1e-6)
        torch.testing.assert_close(image_statistics(images[i : i + 1])[0], stats[i])


def test_outside_disk_is_zero_before_resize():
    images = batch(np.random.default_rng(7), 2, 120, 150, np.uint8) + 1
    mask = sky_mask(120, 150)
    unit = normalized_gray(images)
    assert unit.dtype == torch.float32
    assert (unit[:, ~mask] == 0).all()
    assert unit.min() == 0 and unit.max() == 1
    np.testing.assert_allclose(unit.numpy(), np.stack([ref_unit(im) for im in images]), atol=1e-6)
    # resizing to the same size is the identity: the outside stays 0 in the network input
    same = preprocess(images[:, :120, :120], size=120)
    assert (same[:, 1][:, ~sky_mask(120, 120)] == zero_level(1)).all()


def test_red_blue_constant_and_out():
    images = batch(np.random.default_rng(8), 2, 100, 100, np.uint8)
    out = torch.full((2, 3, 64, 64), np.nan)
    got = preprocess(torch.from_numpy(images), size=64, out=out)
    assert got is out and got.dtype == torch.float32
    for c in (0, 2):
        assert (got[:, c] == zero_level(c)).all()
    assert torch.isfinite(got).all()
    with pytest.raises(ValueError, match="out must be"):
        preprocess(images, size=32, out=out)


def test_sky_mask_and_to_gray():
    for h, w in [(5, 5), (6, 9), (469, 469)]:
        assert np.array_equal(sky_mask(h, w).numpy(), ref_mask(h, w))
    assert sky_mask(4, 4).sum() == 12  # corners excluded
    rgb = np.zeros((1, 2, 2, 3), np.uint16)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 1000, 2000, 3000
    assert to_gray(rgb, 2).dtype == torch.float32 and (to_gray(rgb, 2) == 3000).all()
    np.testing.assert_allclose(to_gray(rgb).numpy(), 0.299e3 + 0.587 * 2e3 + 0.114 * 3e3, rtol=1e-6)
    with pytest.raises(ValueError, match="gray"):
        to_gray(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="mask"):
        preprocess(np.zeros((1, 8, 8)), mask=np.zeros((8, 8), bool))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    images = saturated(np.random.default_rng(9), 4, 512, 512, np.uint16)
    cpu = preprocess(images)
    gpu = preprocess(torch.from_numpy(images).cuda())
    assert gpu.device.type == "cuda"
    torch.testing.assert_close(gpu.cpu(), cpu, rtol=0, atol=1e-5)
    stats = image_statistics(torch.from_numpy(images).cuda())
    torch.testing.assert_close(stats.cpu(), image_statistics(images), rtol=1e-5, atol=1e-6)
