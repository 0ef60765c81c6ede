"""TAME's image preprocessing and histogram statistics, vectorised in torch over a batch.

The steps follow Sado et al. (2022) exactly (see ``DESIGN.md`` §1): gray → zero outside the
fisheye sky disk → clip at the 0.5 and 99.5 percentiles of the pixels inside the disk →
min–max to [0, 1] → gray into the green channel only (R = B = 0) → resize to 224×224 →
ImageNet mean/std. Every function works on the input's device (CPU or CUDA), takes a batch
``(N, H, W)`` gray or ``(N, H, W, 3)`` RGB as a numpy array or torch tensor of any
integer/float dtype, computes in float32 and never loops over images in Python.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
import torch.nn.functional as F

PREPROCESS_VERSION = "1"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STATISTICS = ("min", "max", "median", "mean", "variance", "skewness", "kurtosis", "entropy", "energy")  # fmt: skip
CLIP_PERCENTILES = (0.5, 99.5)
LUMA_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601

ArrayLike = np.ndarray | torch.Tensor
MaskParts = tuple[torch.Tensor, torch.Tensor]


def _as_tensor(images: ArrayLike) -> torch.Tensor:
    if isinstance(images, torch.Tensor):
        return images
    images = np.ascontiguousarray(images)
    if not images.dtype.isnative:  # e.g. big-endian ">u2" from some readers
        images = images.astype(images.dtype.newbyteorder("="))
    return torch.from_numpy(images)


def _check_shape(x: torch.Tensor) -> torch.Tensor:
    if x.ndim != 3 and (x.ndim != 4 or x.shape[-1] != 3):
        raise ValueError(f"images must be (N, H, W) gray or (N, H, W, 3) RGB; got {tuple(x.shape)}")
    return x


def sky_mask(
    height: int, width: int, radius_fraction: float = 0.5, device: torch.device | str | None = None
) -> torch.Tensor:
    """The fisheye sky disk of an ``height × width`` image.

    Parameters
    ----------
    height, width
        Image size in pixels.
    radius_fraction
        Disk radius as a fraction of ``min(height, width)``; 0.5 is the inscribed circle.
    device
        Torch device of the result.

    Returns
    -------
    torch.Tensor
        Bool ``(height, width)``: True where the pixel centre lies within
        ``radius_fraction * min(height, width)`` of the image centre ``((H-1)/2, (W-1)/2)``.
    """
    y = torch.arange(height, dtype=torch.float32, device=device) - (height - 1) / 2
    x = torch.arange(width, dtype=torch.float32, device=device) - (width - 1) / 2
    radius = radius_fraction * min(height, width)
    return y[:, None] ** 2 + x[None, :] ** 2 <= radius**2


def to_gray(images: ArrayLike, channel: int | None = None) -> torch.Tensor:
    """Gray float32 images in the input's units (no scaling).

    Parameters
    ----------
    images
        ``(N, H, W)`` gray or ``(N, H, W, 3)`` RGB, any integer or float dtype.
    channel
        For RGB: the channel taken as gray (OATH/TAME use 1, green). None gives luma with
        ITU-R 601 weights ``0.299 R + 0.587 G + 0.114 B``. Ignored for gray input.

    Returns
    -------
    torch.Tensor
        float32 ``(N, H, W)`` on the input's device.
    """
    x = _check_shape(_as_tensor(images))
    if x.ndim == 3:
        return x.to(torch.float32)
    if channel is not None:
        return x[..., channel].to(torch.float32)
    r, g, b = (x[..., i].to(torch.float32) for i in range(3))
    return r * LUMA_WEIGHTS[0] + g * LUMA_WEIGHTS[1] + b * LUMA_WEIGHTS[2]


def _mask_for(mask: ArrayLike | None, h: int, w: int, device: torch.device) -> MaskParts:
    """The mask as float32 (for multiplying) and its flat pixel indices (for gathering)."""
    if mask is None:
        return _default_mask(h, w, device)
    m = _as_tensor(mask).to(device=device, dtype=torch.bool)
    if m.shape != (h, w):
        raise ValueError(f"mask must be ({h}, {w}); got {tuple(m.shape)}")
    if not bool(m.any()):
        raise ValueError("mask selects no pixels")
    return m.to(torch.float32), m.reshape(-1).nonzero().squeeze(1)


@functools.lru_cache(maxsize=8)
def _default_mask(h: int, w: int, device: torch.device) -> MaskParts:
    return _mask_for(sky_mask(h, w, device=device), h, w, device)


def _percentile_bounds(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row 0.5 and 99.5 percentiles of ``(N, K)``, numpy's default linear method."""
    k = values.shape[1]
    q_lo, q_hi = (q / 100 * (k - 1) for q in CLIP_PERCENTILES)
    i_lo, i_hi = math.floor(q_lo), math.floor(q_hi)
    # the smallest i_lo + 2 and the largest k - i_hi values: two partial selections, no sort
    small = torch.topk(values, min(i_lo + 2, k), dim=1, largest=False, sorted=True).values
    large = torch.topk(values, k - i_hi, dim=1, largest=True, sorted=True).values
    lo = torch.lerp(small[:, i_lo], small[:, min(i_lo + 1, k - 1)], q_lo - i_lo)
    # large[:, j] is sorted element k-1-j: element i_hi is at j = k-1-i_hi, i_hi+1 at j-1
    j = k - 1 - i_hi
    return lo, torch.lerp(large[:, j], large[:, max(j - 1, 0)], q_hi - i_hi)


def normalized_gray(
    images: ArrayLike, *, channel: int | None = None, mask: ArrayLike | None = None
) -> torch.Tensor:
    """TAME's gray plane before resizing: masked, percentile-clipped, min–max scaled.

    Parameters
    ----------
    images, channel
        As for :func:`to_gray`.
    mask
        Bool ``(H, W)`` sky region; default :func:`sky_mask` of the image size.

    Returns
    -------
    torch.Tensor
        float32 ``(N, H, W)`` in [0, 1]: per image, the gray values are clipped at the 0.5
        and 99.5 percentiles of the pixels inside ``mask`` (linear interpolation, as
        ``numpy.percentile``'s default) and mapped linearly from those bounds to [0, 1]
        (an image with equal bounds becomes all 0); pixels outside ``mask`` are exactly 0.
    """
    gray = to_gray(images, channel)
    n, h, w = gray.shape
    inside, flat = _mask_for(mask, h, w, gray.device)
    lo, hi = _percentile_bounds(gray.reshape(n, h * w).index_select(1, flat))
    span = hi - lo
    scale = torch.where(span > 0, 1 / torch.where(span > 0, span, 1), 0)
    # (clip(g, lo, hi) - lo) / span == clip((g - lo) / span, 0, 1); 0 where span == 0
    out = torch.sub(gray, lo[:, None, None]).mul_(scale[:, None, None]).clamp_(0, 1)
    return out.mul_(inside)


def preprocess(
    images: ArrayLike,
    *,
    channel: int | None = None,
    mask: ArrayLike | None = None,
    size: int = 224,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """TAME's preprocessing of a batch into ImageNet-normalised network input.

    gray (:func:`to_gray`) → zero outside the sky disk → clip at the 0.5 and 99.5
    percentiles inside the disk → min–max to [0, 1] (:func:`normalized_gray`) → resize the
    gray plane to ``size × size`` (bilinear, antialiased, ``align_corners=False``) → gray
    into the green channel only (R = B = 0) → per-channel ImageNet mean/std.

    Parameters
    ----------
    images
        ``(N, H, W)`` gray or ``(N, H, W, 3)`` RGB; numpy array or torch tensor (uint8,
        uint16, float), CPU or CUDA. Work happens on the input's device.
    channel
        For RGB: the channel taken as gray (OATH/TAME: 1); None uses ITU-R 601 luma.
    mask
        Bool ``(H, W)`` sky region; default :func:`sky_mask` of the image size.
    size
        Output side length.
    out
        Optional float32 ``(N, 3, size, size)`` tensor on the input's device to write into.

    Returns
    -------
    torch.Tensor
        float32 ``(N, 3, size, size)``; R and B are the constants ``-mean/std``.
    """
    plane = normalized_gray(images, channel=channel, mask=mask)
    n = plane.shape[0]
    resized = F.interpolate(
        plane[:, None], size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )
    if out is None:
        out = torch.empty((n, 3, size, size), dtype=torch.float32, device=plane.device)
    elif out.shape != (n, 3, size, size) or out.dtype != torch.float32:
        raise ValueError(f"out must be float32 {(n, 3, size, size)}; got {out.dtype} {out.shape}")
    for c in (0, 2):  # (0 - mean) / std in float32, the same arithmetic as the green channel
        out[:, c].fill_(
            torch.zeros((), dtype=torch.float32).sub_(IMAGENET_MEAN[c]).div_(IMAGENET_STD[c])
        )
    torch.sub(resized[:, 0], IMAGENET_MEAN[1], out=out[:, 1])
    out[:, 1].div_(IMAGENET_STD[1])
    return out


def _full_range(dtype: torch.dtype) -> float:
    if dtype.is_floating_point or dtype == torch.bool:
        return 1.0
    return float(2 ** (8 * dtype.itemsize - dtype.is_signed) - 1)  # uint8 255, uint16 65535


def image_statistics(
    images: ArrayLike, *, channel: int | None = None, mask: ArrayLike | None = None, bins: int = 128
) -> torch.Tensor:
    """TAME's extra image statistics from a histogram of the gray pixels inside the sky disk.

    Gray values (:func:`to_gray`) inside ``mask`` are scaled to [0, 1] by the dtype's full
    range (uint8 /255, uint16 /65535, other integers by their maximum, floats as they are)
    and clipped to [0, 1]; they are counted in ``bins`` equal bins over [0, 1] (the last bin
    closed, as ``numpy.histogram``). With the normalised histogram ``p`` (sums to 1) and the
    bin centres ``c = (j + 0.5) / bins``, the statistics (our reading of TAME's "statistics
    from a 128-bin histogram", in :data:`STATISTICS` order) are:

    - ``min`` / ``max``: centre of the first / last non-empty bin;
    - ``median``: centre of the first bin where the cumulative sum of ``p`` reaches 0.5;
    - ``mean`` ``m = Σ p c``; ``variance`` ``v = Σ p (c − m)²``;
    - ``skewness`` ``Σ p (c − m)³ / v^1.5``; ``kurtosis`` ``Σ p (c − m)⁴ / v² − 3``
      (excess); both are 0 when ``v == 0``;
    - ``entropy`` ``−Σ p log2 p`` over ``p > 0`` (bits); ``energy`` ``Σ p²``.

    Pixel values and bin indices are float32/int32 per pixel; only the ``(N, bins)``
    histogram moments are accumulated in float64 (float32 on MPS).

    Parameters
    ----------
    images, channel
        As for :func:`to_gray`.
    mask
        Bool ``(H, W)`` sky region; default :func:`sky_mask` of the image size.
    bins
        Number of histogram bins.

    Returns
    -------
    torch.Tensor
        float32 ``(N, 9)`` on the input's device.
    """
    x = _check_shape(_as_tensor(images))
    full = _full_range(x.dtype)
    if x.dtype in (torch.uint16, torch.uint32, torch.uint64) and x.device.type != "cpu":
        x = x.to(torch.float32)  # bare unsigned types have few kernels off the CPU
    n, h, w = x.shape[:3]
    _, flat = _mask_for(mask, h, w, x.device)
    # gather the sky pixels first (in the input dtype), then make them gray: (N, 1, K)
    raw = x.reshape(n, h * w, *x.shape[3:]).index_select(1, flat)[:, None]
    values = to_gray(raw, channel)[:, 0].div_(full).clamp_(0, 1)
    k = values.shape[1]
    index = values.mul_(bins).floor_().clamp_(max=bins - 1).to(torch.int32)
    index += torch.arange(0, n * bins, bins, dtype=torch.int32, device=index.device)[:, None]
    counts = torch.bincount(index.reshape(-1), minlength=n * bins).reshape(n, bins)
    # moments of the tiny (N, bins) histogram in float64 (skewness near 0 needs it); MPS has none
    acc = torch.float32 if counts.device.type == "mps" else torch.float64
    p = counts.to(acc) / k
    centres = (torch.arange(bins, dtype=acc, device=p.device) + 0.5) / bins
    nonempty = counts > 0
    first = nonempty.to(torch.int8).argmax(dim=1)
    last = bins - 1 - nonempty.flip(1).to(torch.int8).argmax(dim=1)
    median_bin = (counts.cumsum(dim=1) * 2 >= k).to(torch.int8).argmax(dim=1)
    mean = (p * centres).sum(dim=1)
    d = centres - mean[:, None]
    var = (p * d**2).sum(dim=1)
    ok = var > 0
    safe = torch.where(ok, var, 1)
    skew = torch.where(ok, (p * d**3).sum(dim=1) / safe**1.5, 0)
    kurt = torch.where(ok, (p * d**4).sum(dim=1) / safe**2 - 3, 0)
    entropy = -(torch.where(nonempty, p * torch.log2(torch.where(nonempty, p, 1)), 0)).sum(dim=1)
    energy = (p * p).sum(dim=1)
    stats = (centres[first], centres[last], centres[median_bin], mean, var, skew, kurt, entropy)
    return torch.stack((*stats, energy), dim=1).to(torch.float32)
