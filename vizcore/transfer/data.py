"""Images → tensors for transfer learning: a seeded stratified split and seeded augmentation.

Pixels are kept as float32 ``(N, C, S, S)`` in [0, 1] at the model's input size; normalisation
(the model's mean/std) is applied last, so augmentation works on real colours.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vizcore.core.preprocess import resize_crop


@dataclass(frozen=True)
class Split:
    """Indices into the flat image list: ``train`` and ``val`` (each sorted)."""

    train: tuple[int, ...]
    val: tuple[int, ...]


def flatten(
    images: Mapping[str, Sequence[Image.Image]],
) -> tuple[list[Image.Image], np.ndarray, tuple[str, ...]]:
    """``{class: [images]}`` → (images, labels (N,) int64, class names in order). Refuses bad sets."""
    classes = tuple(images)
    if not 2 <= len(classes) <= 10:
        raise ValueError(f"Transfer learning needs 2 to 10 classes; got {len(classes)}.")
    empty = [c for c in classes if len(images[c]) < 2]
    if empty:
        raise ValueError("Every class needs at least 2 images (one to train on, one to check): "
                         + ", ".join(repr(c) for c in empty) + ".")
    flat = [img for c in classes for img in images[c]]
    labels = np.array([i for i, c in enumerate(classes) for _ in images[c]], dtype=np.int64)
    return flat, labels, classes


def stratified_split(labels: np.ndarray, val_fraction: float, seed: int) -> Split:
    """Per class, ``round(n · val_fraction)`` images (at least 1, at most n − 1) go to validation."""
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    rng = np.random.default_rng(seed)
    train: list[int] = []
    val: list[int] = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_val = min(max(1, round(len(idx) * val_fraction)), len(idx) - 1)
        val.extend(int(i) for i in idx[:n_val])
        train.extend(int(i) for i in idx[n_val:])
    return Split(tuple(sorted(train)), tuple(sorted(val)))


def model_pixels(images: Sequence[Image.Image], spec: object) -> torch.Tensor:
    """PIL images → (N, C, S, S) float32 in [0, 1], resized and cropped exactly as ``spec`` expects
    (C = number of channels in ``spec.mean``: 1 for a grayscale model, else 3)."""
    grey = len(getattr(spec, "mean", (0, 0, 0))) == 1
    arrays = [np.asarray(resize_crop(img.convert("L" if grey else "RGB"), spec), dtype=np.uint8)
              for img in images]
    x = torch.from_numpy(np.stack(arrays)).float().div_(255.0)
    return x.unsqueeze(1) if grey else x.permute(0, 3, 1, 2).contiguous()


def normalise_batch(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(N, C, H, W) in [0, 1] → normalised with per-channel ``mean``/``std``."""
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Seeded random flip, resized crop (60–100 % of the side) and colour jitter of (N, C, S, S) in [0, 1]."""
    n, _, s, _ = x.shape
    out = torch.empty_like(x)
    flips = torch.rand(n, generator=gen) < 0.5
    scales = 0.6 + 0.4 * torch.rand(n, generator=gen)
    offsets = torch.rand(n, 2, generator=gen)
    bright = 1.0 + 0.4 * (torch.rand(n, generator=gen) - 0.5)
    contrast = 1.0 + 0.4 * (torch.rand(n, generator=gen) - 0.5)
    for i in range(n):
        side = max(8, round(s * float(scales[i])))
        top = int(float(offsets[i, 0]) * (s - side))
        left = int(float(offsets[i, 1]) * (s - side))
        crop = x[i:i + 1, :, top:top + side, left:left + side]
        img = F.interpolate(crop, size=(s, s), mode="bilinear", align_corners=False)[0]
        if flips[i]:
            img = img.flip(-1)
        mean = img.mean()
        out[i] = ((img - mean) * contrast[i] + mean) * bright[i]
    return out.clamp_(0.0, 1.0)
