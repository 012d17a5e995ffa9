"""Preprocessing exactly as the model's weights expect: resize, centre crop, scale to [0, 1], normalise."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from models.registry import ModelSpec


def resize_crop(image: Image.Image, spec: ModelSpec) -> Image.Image:
    """Shorter side → ``spec.resize_size`` (bilinear), then a centre crop of ``spec.input_size``²."""
    w, h = image.size
    short = spec.resize_size
    nw, nh = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)  # as torchvision
    nw, nh = max(nw, spec.input_size), max(nh, spec.input_size)
    img = image.resize((nw, nh), Image.Resampling.BILINEAR)
    left = round((nw - spec.input_size) / 2.0)
    top = round((nh - spec.input_size) / 2.0)
    return img.crop((left, top, left + spec.input_size, top + spec.input_size))


def normalise(pixels: np.ndarray, spec: ModelSpec) -> torch.Tensor:
    """(H, W, 3) uint8 → (1, 3, H, W) float32 with the spec's mean/std applied."""
    x = torch.from_numpy(np.array(pixels, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div_(255.0)
    mean = torch.tensor(spec.mean).view(3, 1, 1)
    std = torch.tensor(spec.std).view(3, 1, 1)
    return ((x - mean) / std).unsqueeze(0)


def to_input(image: Image.Image, spec: ModelSpec) -> torch.Tensor:
    """RGB PIL image → (1, 3, S, S) normalised tensor on CPU, S = ``spec.input_size``."""
    return normalise(np.asarray(resize_crop(image.convert("RGB"), spec)), spec)


def to_pixels(x: torch.Tensor, spec: ModelSpec) -> np.ndarray:
    """Inverse of ``to_input``: (1, 3, H, W) or (3, H, W) tensor → (H, W, 3) uint8."""
    x = x.detach().cpu().float()
    if x.dim() == 4:
        x = x[0]
    mean = torch.tensor(spec.mean).view(3, 1, 1)
    std = torch.tensor(spec.std).view(3, 1, 1)
    img = (x * std + mean).clamp(0, 1).mul(255).round().byte()
    return img.permute(1, 2, 0).numpy()
