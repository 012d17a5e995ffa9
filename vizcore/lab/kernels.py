"""Kernels for the classroom lab: classic presets, a model's real first-layer filter, image regions."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from torch import nn

from vizcore.core.hooks import conv_layer_names, resolve_layer

PRESETS = ("identity", "box blur", "Gaussian", "sharpen", "Sobel x", "Sobel y", "Laplacian", "emboss")
PRESET_NOTES = {
    "identity": "copies the centre pixel: the output equals the input.",
    "box blur": "averages the window: smooths noise and detail.",
    "Gaussian": "a weighted average, heavier in the middle: a softer blur.",
    "sharpen": "centre minus its neighbours: boosts local contrast.",
    "Sobel x": "right minus left: responds to vertical edges.",
    "Sobel y": "bottom minus top: responds to horizontal edges.",
    "Laplacian": "centre minus the surround: responds to edges in any direction and to spots.",
    "emboss": "bottom-right minus top-left: a relief-like diagonal edge detector.",
}


def preset(name: str, size: int = 3) -> np.ndarray:
    """A classic (size, size) kernel; ``size`` is odd, 1–7 (1 gives the 1×1 identity)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    if size < 1 or size > 7:
        raise ValueError(f"Kernel size must be 1–7 (got {size}).")
    k = np.zeros((size, size))
    c = size // 2
    if name == "identity" or size == 1:
        k[c, c] = 1.0
        return k
    r = np.arange(size) - c
    smooth = np.array([float(math.comb(size - 1, i)) for i in range(size)])  # binomial ≈ Gaussian
    deriv = np.sign(r).astype(float)
    if name == "box blur":
        return np.full((size, size), 1.0 / size**2)
    if name == "Gaussian":
        g = np.outer(smooth, smooth)
        return g / g.sum()
    if name == "sharpen":
        k[c, c] = 1.0
        return 2 * k - np.full((size, size), 1.0 / size**2)
    if name == "Sobel x":
        return np.outer(smooth, deriv)
    if name == "Sobel y":
        return np.outer(deriv, smooth)
    if name == "Laplacian":
        k[:] = -1.0
        k[c, c] = size * size - 1.0
        return k
    return np.sign(r[:, None] + r[None, :]).astype(float)  # emboss


@dataclass(frozen=True)
class LearnedFilter:
    """One real filter of a model's first conv. ``weight`` (C_in/groups, kh, kw), ``bias`` scalar.

    ``folded`` says a following BatchNorm was folded in (weight·γ/σ, bias = β − μ·γ/σ).
    """

    layer: str
    index: int
    count: int
    weight: np.ndarray
    bias: float
    has_bias: bool
    folded: bool
    stride: tuple[int, int]
    padding: tuple[int, int]
    note: str


def _following_bn(model: nn.Module, layer: str, channels: int) -> nn.BatchNorm2d | None:
    names = [n for n, _ in model.named_modules()]
    mods = dict(model.named_modules())
    for n in names[names.index(layer) + 1:]:
        m = mods[n]
        if isinstance(m, nn.BatchNorm2d) and m.num_features == channels:
            return m
        if isinstance(m, nn.Conv2d | nn.Linear):
            return None
    return None


def first_conv_filter(model: nn.Module, index: int = 0, *, fold_bn: bool = True) -> LearnedFilter:
    """Filter ``index`` of the first conv layer (real trained weights), optionally BN-folded."""
    layer = conv_layer_names(model)[0]
    conv = resolve_layer(model, layer)
    n = conv.out_channels
    if not 0 <= index < n:
        raise ValueError(f"{layer} has {n} filters; pick an index from 0 to {n - 1}.")
    with torch.no_grad():
        w = conv.weight[index].detach().double().cpu().numpy().copy()
        has_bias = conv.bias is not None
        b = float(conv.bias[index]) if has_bias else 0.0
        bn = _following_bn(model, layer, n) if fold_bn else None
        if bn is not None:
            scale = float(bn.weight[index] / torch.sqrt(bn.running_var[index] + bn.eps))
            shift = float(bn.bias[index] - bn.running_mean[index] * scale)
            w, b = w * scale, b * scale + shift
    if bn is not None:
        note = (f"`{layer}` has no bias of its own{'' if not has_bias else ' (folded in too)'}; "
                "it is followed by BatchNorm, which at inference is just a per-filter scale and "
                "shift. We folded it in: weights × γ/√(σ²+ε), bias = β − μ·γ/√(σ²+ε).")
    elif has_bias:
        note = f"Real weights and bias of filter {index} of `{layer}`."
    else:
        note = f"`{layer}` has no bias, so the bias is 0."
    return LearnedFilter(layer, index, n, w, b, has_bias, bn is not None, tuple(conv.stride),
                         tuple(conv.padding), note)


def region_grid(image: Image.Image, centre: tuple[float, float], side: int, grid: int, *,
                rgb: bool = True) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A ``side``-pixel square around ``centre`` (x, y fractions 0–1), box-downsampled to
    ``grid``×``grid``. Returns values in [0, 1] as (C, grid, grid) (C = 3 or 1) and the box."""
    w, h = image.size
    side = int(max(grid, min(side, w, h)))
    cx, cy = centre[0] * w, centre[1] * h
    left = round(min(max(cx - side / 2, 0), w - side))
    top = round(min(max(cy - side / 2, 0), h - side))
    box = (left, top, left + side, top + side)
    crop = image.convert("RGB" if rgb else "L").crop(box).resize((grid, grid), Image.Resampling.BOX)
    a = np.asarray(crop, dtype=np.float64) / 255.0
    return (a.transpose(2, 0, 1) if rgb else a[None]), box
