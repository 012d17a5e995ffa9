"""Preprocessing exactly as the model's weights expect: resize, centre crop, scale to [0, 1], normalise.

The recipe is the weights' data (a ``ModelSpec`` carries it, copied from torchvision's
``weights.transforms()``): shorter side → ``resize_size`` with the weights' ``interpolation``, centre
crop of ``input_size``², ``(x − mean) / std`` per channel, ``channels`` 3 (RGB) or 1 (grey).
``model_input`` returns the tensor together with the crop the model sees, once per image × model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from PIL import Image

INTERPOLATIONS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
}


class Recipe(Protocol):
    """What preprocessing needs from a spec (``models.registry.ModelSpec`` has all of it)."""

    input_size: int
    resize_size: int
    interpolation: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channels: int


@dataclass(frozen=True, eq=False)
class ModelInput:
    """One image as one model sees it. ``tensor`` (1, C, S, S) float32, normalised, CPU;
    ``crop`` the S × S display crop (RGB, or ``L`` for 1-channel models); ``digest`` identifies the
    image and the recipe (a cache key: ``resources.compute`` accepts a ``ModelInput`` as its image)."""

    tensor: torch.Tensor
    crop: Image.Image
    digest: str


def recipe_key(spec: Recipe) -> str:
    """A short string that differs whenever the preprocessing differs."""
    return (f"{spec.resize_size}/{spec.input_size}/{spec.interpolation}/{spec.channels}/"
            f"{tuple(spec.mean)}/{tuple(spec.std)}")


def resize_crop(image: Image.Image, spec: Recipe) -> Image.Image:
    """Shorter side → ``spec.resize_size`` (the weights' interpolation), centre crop ``input_size``².

    Same geometry as torchvision's ``Resize(int)`` + ``CenterCrop``; the mode becomes RGB (``L`` for
    1-channel specs)."""
    image = image.convert("L" if spec.channels == 1 else "RGB")
    w, h = image.size
    short, size = spec.resize_size, spec.input_size
    nw, nh = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)  # as torchvision
    nw, nh = max(nw, size), max(nh, size)
    if spec.interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {spec.interpolation!r}; one of {', '.join(INTERPOLATIONS)}")
    img = image.resize((nw, nh), INTERPOLATIONS[spec.interpolation]) if (nw, nh) != (w, h) else image
    left = round((nw - size) / 2.0)
    top = round((nh - size) / 2.0)
    return img.crop((left, top, left + size, top + size))


def _stats(values: Sequence[float], x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(tuple(values), dtype=x.dtype, device=x.device).view(-1, 1, 1)


def normalise(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """``(x − mean) / std`` per channel for ``x`` (C, H, W) or (B, C, H, W) in [0, 1]. The one place
    this formula lives (``denormalise`` is its inverse)."""
    return (x - _stats(mean, x)) / _stats(std, x)


def denormalise(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Inverse of ``normalise``: ``x · std + mean`` per channel, (C, H, W) or (B, C, H, W)."""
    return x * _stats(std, x) + _stats(mean, x)


def pixels_to_tensor(pixels: np.ndarray) -> torch.Tensor:
    """(H, W, C) / (H, W) uint8 → (C, H, W) float32 in [0, 1]; (B, H, W, C) → (B, C, H, W)."""
    a = np.asarray(pixels, dtype=np.uint8)
    t = torch.from_numpy(np.array(a, copy=True))
    t = t.unsqueeze(-1) if a.ndim == 2 else t
    return t.movedim(-1, -3).float().div_(255.0)


def _tensor(crop: Image.Image, spec: Recipe) -> torch.Tensor:
    x = normalise(pixels_to_tensor(np.asarray(crop)), spec.mean, spec.std)
    if x.shape[0] != spec.channels:
        raise ValueError(f"expected {spec.channels} channels, got {x.shape[0]}")
    return x.unsqueeze(0)


def to_input(image: Image.Image, spec: Recipe) -> torch.Tensor:
    """PIL image → (1, C, S, S) normalised tensor on CPU, S = ``spec.input_size``, C = ``spec.channels``.

    Equals ``weights.transforms()(image)[None]`` for torchvision weights (tested to 1e-5)."""
    return _tensor(resize_crop(image, spec), spec)


def model_input(image: Image.Image, spec: Recipe, *, digest: str = "") -> ModelInput:
    """``to_input`` and the display crop from ONE resize/crop; ``digest`` names the source image."""
    crop = resize_crop(image, spec)
    return ModelInput(_tensor(crop, spec), crop, f"{digest}:{recipe_key(spec)}")


def as_model_input(image: object, spec: Recipe) -> ModelInput:
    """``image`` if it already is a ``ModelInput``, else the ``ModelInput`` of a ``LoadedImage``
    (anything with ``.image`` and ``.digest``) — lets tasks take either."""
    if isinstance(image, ModelInput):
        return image
    return model_input(image.image, spec, digest=image.digest)  # type: ignore[attr-defined]
