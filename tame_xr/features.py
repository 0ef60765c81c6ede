"""Images → features: TAME's preprocessing and a pretrained CNN mapped over dask chunks.

:func:`extract_features` takes any image Dataset (``image(time, station, y, x)`` from
:func:`tame_xr.read_images` or a store group, ``image(sample, y, x)`` from OATH) and returns a
lazy Dataset ``features(..., feature)`` plus TAME's nine histogram statistics
``statistics(..., statistic)``. Each dask task preprocesses and forwards its own chunk of
images; the model is loaded once per process (:func:`tame_xr.backbones.load_backbone` keeps a
locked cache keyed by name), so only the backbone's name travels with the tasks, never the
model. Invalid cells (``valid`` False) are not fed to the network; their features are NaN.

The model runs in eval mode, so a sample's features do not depend on batch size or chunking
beyond float rounding (``tests/test_features.py``). On CUDA the forward runs in channels-last
bf16 autocast; features then agree with fp32 CPU results to the tolerance stated in
:data:`CUDA_TOLERANCE`.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from ._version import __version__

IMAGE_CORE_DIMS = ("y", "x")
#: Agreement of CUDA (bf16 autocast) features with fp32 CPU features, relative to the
#: features' overall scale: max |gpu - cpu| / max |cpu|.
CUDA_TOLERANCE = 0.05
# torch already spreads one forward pass over all cores (or the GPU). Called from several dask
# threads, each calling thread gets its own OpenMP pool, and the pools' spinning workers fight
# for the cores (3x slower than one thread on 2 cores). So the torch part of every task runs on
# one thread per process; tasks still overlap their reading and decompression.
CPU_SLICE = 8
_TORCH_THREAD: ThreadPoolExecutor | None = None
_TORCH_THREAD_LOCK = threading.Lock()


def _torch_thread() -> ThreadPoolExecutor:
    global _TORCH_THREAD
    with _TORCH_THREAD_LOCK:
        if _TORCH_THREAD is None:
            _TORCH_THREAD = ThreadPoolExecutor(1, thread_name_prefix="tame_xr-torch")
        return _TORCH_THREAD


def _image_array(images: xr.Dataset | xr.DataArray) -> tuple[xr.DataArray, xr.DataArray | None]:
    if isinstance(images, xr.Dataset):
        if "image" not in images:
            raise ValueError(f"dataset has no 'image' variable: {list(images.data_vars)}")
        valid = images["valid"] if "valid" in images else None
        return images["image"], valid
    return images, None


def _extract_block(
    image: np.ndarray,
    valid: np.ndarray,
    *,
    backbone: str,
    layer: str,
    device: str | None,
    batch_size: int,
    channel: int | None,
    n_core: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Features and statistics of a block of images (leading dims any, image dims last)."""
    from .backbones import load_backbone
    from .preprocess import STATISTICS

    model = load_backbone(backbone, layer=layer, device=device)
    lead = image.shape[: image.ndim - n_core]
    flat = image.reshape(-1, *image.shape[image.ndim - n_core :])
    ok = np.broadcast_to(valid, lead).reshape(-1) if valid is not None else np.ones(len(flat), bool)
    feats = np.full((len(flat), model.n_features), np.nan, dtype=np.float32)
    stats = np.full((len(flat), len(STATISTICS)), np.nan, dtype=np.float32)
    index = np.flatnonzero(ok)
    if threading.current_thread().name.startswith("tame_xr-torch"):
        _run_batches(model, flat, index, feats, stats, batch_size, channel)
    else:
        job = _torch_thread().submit(
            _run_batches, model, flat, index, feats, stats, batch_size, channel
        )
        job.result()
    return (
        feats.reshape(*lead, model.n_features),
        stats.reshape(*lead, len(STATISTICS)),
    )


def _run_batches(model, flat, index, feats, stats, batch_size, channel) -> None:
    import torch

    from .preprocess import image_statistics, preprocess

    # On CPU, work in small slices: a batch of 64 has activations of 100-300 MB, which glibc
    # maps afresh on every call in any thread but the main one (its per-thread heaps stop at
    # 64 MiB) — ~15,000 page faults per image, 3x slower (bench/features.py). Slices of 8
    # stay inside the heaps; eval mode makes the features independent of the slicing.
    step = batch_size if model.device.type == "cuda" else min(batch_size, CPU_SLICE)
    for start in range(0, len(index), step):
        take = index[start : start + step]
        batch = torch.from_numpy(np.ascontiguousarray(flat[take]))
        if model.device.type == "cuda":
            batch = batch.to(model.device, non_blocking=True)
        pixels = preprocess(batch, channel=channel)
        feats[take] = model.forward(pixels).float().cpu().numpy()
        stats[take] = image_statistics(batch, channel=channel).cpu().numpy()


def _nullcontext():
    import contextlib

    return contextlib.nullcontext()


def _apply(image, valid, core, model, backbone, layer, batch_size, channel):
    from .preprocess import STATISTICS

    return xr.apply_ufunc(
        _extract_block,
        image,
        valid,
        input_core_dims=[core, []],
        output_core_dims=[["feature"], ["statistic"]],
        dask="parallelized",
        output_dtypes=[np.float32, np.float32],
        dask_gufunc_kwargs={
            "output_sizes": {"feature": model.n_features, "statistic": len(STATISTICS)}
        },
        kwargs={
            "backbone": backbone,
            "layer": layer,
            "device": str(model.device),
            "batch_size": batch_size,
            "channel": channel,
            "n_core": len(core),
        },
    )


def extract_features(
    images: xr.Dataset | xr.DataArray,
    backbone: str = "efficientnet_lite0",
    *,
    layer: str = "logits",
    batch_size: int = 64,
    device: str | None = None,
    channel: int | None = None,
    resources: dict | None = None,
) -> xr.Dataset:
    """Extract CNN features and histogram statistics from every valid image, lazily.

    Parameters
    ----------
    images
        A Dataset with ``image`` (and optionally ``valid``) or an image DataArray; image
        dims ``y, x`` (and ``channel`` for RGB) come last.
    backbone
        A name from :func:`tame_xr.backbones.available_backbones`.
    layer
        ``"logits"`` (TAME: the 1000 ImageNet logits) or ``"pooled"`` (the pooled embedding).
    batch_size
        Images per forward pass (the GPU batch). Chunks along time are processed in batches
        of this size; results do not depend on it.
    device
        ``"cuda"``, ``"cpu"`` or None (CUDA when available).
    channel
        For RGB images: the channel used as gray (OATH/TAME: 1, green); None uses luma.
    resources
        dask.distributed worker resources the extraction tasks need, e.g. ``{"GPU": 1}`` to
        run them only on workers started with ``--resources GPU=1`` (reading the images can
        happen anywhere). Without a distributed scheduler this has no effect. Compute with
        ``dask.config.set({"optimization.fuse.active": False})``: dask's low-level task
        fusion merges the annotated tasks with the image-reading ones and drops the
        annotation (``tests/test_distributed.py``).

    Returns
    -------
    xarray.Dataset
        ``features(..., feature)`` float32, ``statistics(..., statistic)`` float32, ``valid``
        and the images' non-image coordinates; attrs name the backbone, its weights' sha256
        and the preprocessing.
    """
    from .backbones import load_backbone
    from .preprocess import PREPROCESS_VERSION, STATISTICS

    image, valid = _image_array(images)
    core = [d for d in image.dims if d in (*IMAGE_CORE_DIMS, "channel")]
    if core != list(image.dims[-len(core) :]) or not {"y", "x"} <= set(core):
        raise ValueError(f"image dims must end with y, x[, channel]; got {image.dims}")
    lead = [d for d in image.dims if d not in core]
    model = load_backbone(backbone, layer=layer, device=device)
    if valid is None:
        valid = xr.ones_like(image.isel({d: 0 for d in core}), dtype=bool).drop_vars(
            [c for c in image.coords if set(image[c].dims) & set(core)], errors="ignore"
        )
    if image.chunks is not None:
        image = image.chunk({d: -1 for d in core})
        valid = valid.chunk({d: image.chunks[image.get_axis_num(d)] for d in lead})
    import dask

    with dask.annotate(resources=resources) if resources else _nullcontext():
        feats, stats = _apply(image, valid, core, model, backbone, layer, batch_size, channel)
    feature_attrs = {
        "long_name": f"{backbone} {layer} features",
        "units": "1",
        "comment": "ImageNet class logits" if layer == "logits" else "pooled embedding",
    }
    out = xr.Dataset(
        {
            "features": feats.transpose(*lead, "feature").assign_attrs(feature_attrs),
            "statistics": stats.transpose(*lead, "statistic").assign_attrs(
                long_name="TAME image statistics from a 128-bin histogram", units="1"
            ),
            "valid": valid.transpose(*lead).assign_attrs(
                long_name="features were extracted from an image", units="1"
            ),
        },
        coords={
            "feature": (
                "feature",
                np.arange(model.n_features, dtype=np.int32),
                {"long_name": "feature index"},
            ),
            "statistic": (
                "statistic",
                np.array(STATISTICS, dtype=object),
                {"long_name": "image statistic"},
            ),
        },
    )
    source = images.attrs if isinstance(images, xr.Dataset) else {}
    out.attrs = {
        "title": f"{backbone} features of {source.get('title', 'images')}",
        "source": source.get("title", "images"),
        "license": source.get("license", "see the image data"),
        "backbone": backbone,
        "layer": layer,
        "weights_sha256": model.weights_sha256,
        "preprocessing": (
            "TAME: gray, zero outside the sky disk, clip at the 0.5/99.5 percentiles inside "
            "the disk, min-max to [0, 1], gray into the green channel, 224x224 bilinear "
            "(antialiased), ImageNet mean/std"
        ),
        "preprocess_version": PREPROCESS_VERSION,
        "channel": "luma" if channel is None else str(channel),
        "tame_xr_version": __version__,
    }
    for key in ("product", "cadence"):
        if key in source:
            out.attrs[key] = source[key]
    return out
