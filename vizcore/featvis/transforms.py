"""Transformation robustness: pad, jitter, random scale, random rotate.

Every random choice is drawn from ``torch.Generator``s (one per batch item, so an image does not
depend on its neighbours in the batch); no global RNG. Scale, rotation and jitter are fused into one
affine ``grid_sample`` per step, which is much cheaper than applying them one after another.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

SCALES = tuple(1 + (i - 5) / 50 for i in range(11))  # 0.90 … 1.10, lucent's standard set
ANGLES = tuple(range(-10, 11))  # degrees


@dataclass(frozen=True)
class Robustness:
    """Strength of the random transforms, in pixels of a 224 px image (scaled with the size)."""

    pad: int = 12
    jitter: int = 8
    scales: tuple[float, ...] = SCALES
    angles: tuple[int, ...] = ANGLES

    def scaled(self, size: int) -> Robustness:
        """The same transforms for a ``size`` px image (pad / jitter proportional to size)."""
        f = size / 224
        return Robustness(max(1, round(self.pad * f)), max(1, round(self.jitter * f)),
                          self.scales, self.angles)


def pad(x: torch.Tensor, width: int, *, value: float = 0.5) -> torch.Tensor:
    """Constant (mid-grey) padding of (B, C, H, W) by ``width`` px on every side."""
    return F.pad(x, [width] * 4, mode="constant", value=value)


def _pick(options: Sequence[float], gen: torch.Generator) -> float:
    return float(options[int(torch.randint(len(options), (1,), generator=gen))])


def draw(gens: Sequence[torch.Generator], rob: Robustness) -> torch.Tensor:
    """Random (scale, angle in radians, dx px, dy px) for each batch item: (B, 4)."""
    rows = []
    for g in gens:
        s = _pick(rob.scales, g)
        a = math.radians(_pick(rob.angles, g))
        dx, dy = (torch.randint(-rob.jitter, rob.jitter + 1, (2,), generator=g)).tolist()
        rows.append((s, a, float(dx), float(dy)))
    return torch.tensor(rows)


def affine(x: torch.Tensor, params: torch.Tensor, *, fill: float = 0.5) -> torch.Tensor:
    """Scale, rotate about the centre and shift each image of (B, C, H, W); ``params`` (B, 4) as in
    ``draw``. Output has the input's size; uncovered pixels are ``fill``."""
    b, _, h, w = x.shape
    s, a, dx, dy = params.to(x).unbind(1)
    cos, sin = torch.cos(a) / s, torch.sin(a) / s
    # output -> input sampling grid in normalised coordinates (inverse of the forward transform)
    theta = torch.stack([
        torch.stack([cos, -sin, -2 * dx / w], 1),
        torch.stack([sin, cos, -2 * dy / h], 1),
    ], 1)
    grid = F.affine_grid(theta, [b, x.shape[1], h, w], align_corners=False)
    out = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out + fill


def jitter(x: torch.Tensor, gens: Sequence[torch.Generator], d: int) -> torch.Tensor:
    """Shift each image by a random whole number of pixels in [-d, d] (mid-grey fills the gap)."""
    params = torch.tensor([[1.0, 0.0, *torch.randint(-d, d + 1, (2,), generator=g).float().tolist()]
                           for g in gens])
    return affine(x, params)


def scale(x: torch.Tensor, gens: Sequence[torch.Generator], scales: Sequence[float]) -> torch.Tensor:
    """Zoom each image about its centre by a factor drawn from ``scales``."""
    params = torch.tensor([[_pick(scales, g), 0.0, 0.0, 0.0] for g in gens])
    return affine(x, params)


def rotate(x: torch.Tensor, gens: Sequence[torch.Generator], angles: Sequence[float]) -> torch.Tensor:
    """Rotate each image about its centre by an angle (degrees) drawn from ``angles``."""
    params = torch.tensor([[1.0, math.radians(_pick(angles, g)), 0.0, 0.0] for g in gens])
    return affine(x, params)


def robust(x: torch.Tensor, gens: Sequence[torch.Generator], rob: Robustness) -> torch.Tensor:
    """Pad, then one fused random jitter + scale + rotate: (B, C, S, S) -> (B, C, S+2p, S+2p)."""
    return affine(pad(x, rob.pad), draw(gens, rob))
