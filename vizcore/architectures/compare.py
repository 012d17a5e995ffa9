"""Two models on one photo: put both heatmaps on the same grid of the photo and subtract them.

Each model sees its own centre crop (its weights' resize and crop sizes differ: 256→224, 232→224,
32×32 grey…), so heatmaps are first mapped back to photo coordinates (``crop_box``), then both are
resampled onto the part of the photo that both crops cover (``common_box``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

Box = tuple[float, float, float, float]  # (left, top, right, bottom) in photo pixels


@dataclass(frozen=True)
class HeatmapPair:
    """Both maps on one grid (``size``×``size``, over ``box`` of the photo) and their difference."""

    a: np.ndarray  # (N, N) in [0, 1]
    b: np.ndarray  # (N, N) in [0, 1]
    diff: np.ndarray  # a − b, (N, N) in [−1, 1]
    box: Box
    correlation: float | None  # Pearson r of the two maps (None when one is constant)
    overlap: float  # IoU of the top-20 % regions of the two maps


def crop_box(size: tuple[int, int], resize_size: int, input_size: int) -> Box:
    """The part of a ``size`` = (W, H) photo a model sees: shorter side → ``resize_size``, centre
    crop ``input_size``² (the geometry of ``vizcore.core.preprocess.resize_crop``)."""
    w, h = size
    nw, nh = (resize_size, int(resize_size * h / w)) if w <= h else (int(resize_size * w / h), resize_size)
    nw, nh = max(nw, input_size), max(nh, input_size)
    left, top = round((nw - input_size) / 2.0), round((nh - input_size) / 2.0)
    sx, sy = nw / w, nh / h
    return (left / sx, top / sy, (left + input_size) / sx, (top + input_size) / sy)


def common_box(a: Box, b: Box) -> Box:
    """Intersection of two crop boxes (both are centred, so it is never empty)."""
    box = (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"the crops {a} and {b} do not overlap")
    return box


def resample(heatmap: np.ndarray, src: Box, dst: Box, size: int) -> np.ndarray:
    """Bilinear samples of ``heatmap`` (H, W) covering ``src`` at the centres of a ``size``² grid
    over ``dst`` (photo coordinates)."""
    hm = torch.as_tensor(np.asarray(heatmap, np.float32))[None, None]
    t = (torch.arange(size, dtype=torch.float64) + 0.5) / size
    xs = dst[0] + t * (dst[2] - dst[0])
    ys = dst[1] + t * (dst[3] - dst[1])
    gx = 2 * (xs - src[0]) / (src[2] - src[0]) - 1  # align_corners=False convention
    gy = 2 * (ys - src[1]) / (src[3] - src[1]) - 1
    grid = torch.stack(torch.meshgrid(gy, gx, indexing="ij")[::-1], -1)[None].float()
    out = F.grid_sample(hm, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return out[0, 0].numpy()


def _top_iou(a: np.ndarray, b: np.ndarray, q: float = 80.0) -> float:
    ma, mb = a >= np.percentile(a, q), b >= np.percentile(b, q)
    union = np.logical_or(ma, mb).sum()
    return float(np.logical_and(ma, mb).sum() / union) if union else 0.0


def pair_heatmaps(a: np.ndarray, box_a: Box, b: np.ndarray, box_b: Box, *, size: int = 224) -> HeatmapPair:
    """Both heatmaps on the common grid, their difference, correlation and top-20 % overlap."""
    box = common_box(box_a, box_b)
    ra, rb = resample(a, box_a, box, size), resample(b, box_b, box, size)
    corr = None
    if ra.std() > 1e-8 and rb.std() > 1e-8:
        corr = float(np.corrcoef(ra.ravel(), rb.ravel())[0, 1])
    return HeatmapPair(ra, rb, ra - rb, box, corr, _top_iou(ra, rb))


def photo_crop(image: Image.Image, box: Box, size: int = 224) -> Image.Image:
    """The ``box`` part of the photo at ``size``² (RGB), the background of the common-grid maps."""
    return image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR, box=box)
