"""Convolution filters (weights) as data and as small pictures.

Weights are shown symmetrically around zero: 0 is mid-grey (RGB) or the neutral middle colour of a
diverging map, so positive and negative weights are equally visible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from torch import nn

from vizcore.core.hooks import conv_layer_names, resolve_layer
from vizcore.core.render import colorize


@dataclass(frozen=True)
class FilterBank:
    """The weights of one ``nn.Conv2d``: ``weight`` (O, I/groups, kh, kw) float32, ``bias`` (O,) or
    None, ``norms`` (O,) = L2 norm of each filter."""

    layer: str
    weight: np.ndarray
    bias: np.ndarray | None
    norms: np.ndarray
    groups: int
    in_channels: int
    first_layer: bool = False  # the first convolution: its input is the RGB image

    @property
    def count(self) -> int:
        """Number of filters (= output channels)."""
        return int(self.weight.shape[0])

    @property
    def is_rgb(self) -> bool:
        """True for a first layer that looks at the image directly: 3 colour channels, or 1 grey
        channel (LeNet-5, grayscale user models: its filters are shown as grey pictures)."""
        return self.first_layer and self.in_channels in (1, 3) and self.weight.shape[1] == self.in_channels

    def stats_line(self) -> str:
        """Layer-wide one-liner: count, shape, min/max, mean |w|."""
        w = self.weight
        o, i, kh, kw = w.shape
        grp = f", groups={self.groups}" if self.groups > 1 else ""
        return (f"{o} filters of {i}×{kh}×{kw}{grp} · {w.size:,} weights · min {w.min():+.3f} · "
                f"max {w.max():+.3f} · mean |w| {np.abs(w).mean():.4f}")


def filter_bank(model: nn.Module, layer: str) -> FilterBank:
    """Copy the weights of conv layer ``layer``; raises ``ValueError`` for other module types."""
    mod = resolve_layer(model, layer)
    if not isinstance(mod, nn.Conv2d):
        raise ValueError(f"{layer!r} is a {type(mod).__name__}, not a convolution layer.")
    w = mod.weight.detach().float().cpu().numpy().copy()
    b = None if mod.bias is None else mod.bias.detach().float().cpu().numpy().copy()
    norms = np.sqrt((w.astype(np.float64) ** 2).reshape(w.shape[0], -1).sum(1)).astype(np.float32)
    first = conv_layer_names(model)[0] == layer
    return FilterBank(layer, w, b, norms, int(mod.groups), int(mod.in_channels), first)


def filter_order(bank: FilterBank, *, sort: str = "index") -> np.ndarray:
    """Filter indices in display order: ``"index"`` or ``"norm"`` (largest first)."""
    if sort == "norm":
        return np.argsort(-bank.norms, kind="stable")
    if sort != "index":
        raise ValueError(f"unknown sort {sort!r}; use 'index' or 'norm'")
    return np.arange(bank.count)


def _upscale(tile: np.ndarray, size: int) -> np.ndarray:
    img = Image.fromarray(tile)
    return np.asarray(img.resize((size, size), Image.Resampling.NEAREST))


def rgb_tiles(bank: FilterBank, order: np.ndarray, *, size: int = 42) -> np.ndarray:
    """First-layer filters as RGB pictures (N, size, size, 3) uint8; one scale for the whole layer,
    so 0 is mid-grey and the strongest weight of the layer reaches black / full colour."""
    m = float(np.abs(bank.weight).max()) or 1.0
    tiles = [(0.5 + 0.5 * bank.weight[o].transpose(1, 2, 0) / m) for o in order]
    tiles = [np.repeat(t, 3, axis=2) if t.shape[2] == 1 else t for t in tiles]  # 1 channel → grey
    return np.stack([_upscale((np.clip(t, 0, 1) * 255).round().astype(np.uint8), size) for t in tiles])


def slice_tiles(bank: FilterBank, order: np.ndarray, *, channels: int = 8,
                size: int = 24) -> np.ndarray:
    """Deeper layers: for each filter in ``order``, its first ``channels`` input-channel slices in a
    row, coolwarm around 0 on one layer-wide scale → (N, size, channels*size, 3) uint8."""
    m = float(np.abs(bank.weight).max()) or 1.0
    c = min(channels, bank.weight.shape[1])
    rows = []
    for o in order:
        cells = [_upscale(colorize(bank.weight[o, i], "coolwarm", lo=-m, hi=m), size) for i in range(c)]
        rows.append(np.concatenate(cells, axis=1))
    return np.stack(rows)


def norm_matrix(bank: FilterBank, order: np.ndarray) -> np.ndarray:
    """(O, I/groups) L2 norm of every input-channel slice, rows in ``order``."""
    w = bank.weight[order]
    return np.sqrt((w.astype(np.float64) ** 2).sum(axis=(2, 3))).astype(np.float32)
