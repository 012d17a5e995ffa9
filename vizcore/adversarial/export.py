"""Download an adversarial example as an 8-bit PNG that is still adversarial after rounding.

The PNG is the photo *resized but not cropped* (shorter side = ``spec.resize_size``) with the
adversarial centre crop pasted in, so uploading it to the app (``load_image`` → resize → centre crop)
gives back exactly the attacked pixels. Rounding to 8 bits moves every value by ≤ ½ level; if that
undoes the attack, the perturbation is re-projected in 8-bit: signed-gradient steps of one level inside
the ε-ball of whole levels, until the rounded image fools the model again (or ``max_steps`` run out).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from PIL import Image
from torch import nn

from models.registry import ModelSpec
from vizcore.adversarial.attacks import AttackResult, Normalised, input_grad
from vizcore.core.hooks import frozen, model_device
from vizcore.core.images import load_image
from vizcore.core.preprocess import INTERPOLATIONS, pixels_to_tensor, resize_crop
from vizcore.core.render import png_bytes


@dataclass(frozen=True)
class PngExport:
    """The download: ``png`` bytes; ``pixels`` (1, 3, H, W) the 8-bit crop (k/255); ``pred`` the top-1
    class after reloading the PNG through the app's loader; ``success`` whether that still fools the
    model; ``reprojected`` / ``extra_steps`` whether (and how many) 8-bit steps were needed;
    ``identical`` whether the reloaded crop equals ``pixels`` exactly; ``message`` says it in words."""

    png: bytes
    pixels: torch.Tensor
    pred: int
    success: bool
    reprojected: bool
    extra_steps: int
    linf_levels: int
    identical: bool
    message: str


def canvas(image: Image.Image, spec: ModelSpec) -> tuple[Image.Image, tuple[int, int]]:
    """The photo resized like ``resize_crop`` (shorter side → ``spec.resize_size``, the weights'
    interpolation) but not cropped, and the (left, top) of the model's centre crop inside it."""
    image = image.convert("L" if spec.channels == 1 else "RGB")
    w, h = image.size
    short, size = spec.resize_size, spec.input_size
    nw, nh = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    nw, nh = max(nw, size), max(nh, size)
    big = image.resize((nw, nh), INTERPOLATIONS[spec.interpolation]) if (nw, nh) != (w, h) else image.copy()
    return big, (round((nw - size) / 2.0), round((nh - size) / 2.0))


def pixels_of(image: Image.Image, spec: ModelSpec) -> torch.Tensor:
    """The model's crop of ``image`` as pixels (1, C, S, S) in [0, 1] (the attack's input)."""
    return pixels_to_tensor(np.asarray(resize_crop(image, spec))).unsqueeze(0)


def reload_pixels(data: bytes, spec: ModelSpec) -> torch.Tensor:
    """PNG bytes → the app's loader (``load_image``) → the model's crop as pixels (1, 3, S, S)."""
    return pixels_of(load_image(data).image, spec)


def _fools(pred: int, result: AttackResult) -> bool:
    return pred == result.target if result.target is not None else pred != result.source


def quantise(result: AttackResult, fn: Callable[[torch.Tensor], torch.Tensor], *,
             max_steps: int) -> tuple[torch.Tensor, int, int]:
    """Round ``result.pixels`` to whole levels inside the ε-ball of whole levels; if that stops fooling
    the model, take up to ``max_steps`` one-level signed-gradient steps. → (levels (1, 3, H, W) float
    in 0…255, steps taken, radius in levels)."""
    clean = torch.round(result.clean * 255)
    radius = math.floor(result.eps * 255 + 1e-6)
    lo, hi = (clean - radius).clamp(0, 255), (clean + radius).clamp(0, 255)
    q = torch.minimum(torch.maximum(torch.round(result.pixels * 255), lo), hi)
    goal = result.target if result.target is not None else result.source
    labels = torch.tensor([goal], device=q.device)
    for step in range(max_steps + 1):
        with torch.no_grad():
            pred = int(fn(q / 255)[0].argmax())
        if _fools(pred, result) or radius == 0 or step == max_steps:
            return q, step, radius
        grad = input_grad(fn, q / 255, labels, targeted=result.target is not None)
        q = torch.minimum(torch.maximum(q + grad.sign(), lo), hi)
    raise AssertionError("unreachable")


def export_png(model: nn.Module, result: AttackResult, image: Image.Image, spec: ModelSpec, *,
               max_steps: int = 20) -> PngExport:
    """Make the 8-bit PNG of ``result`` (an attack on ``pixels_of(image, spec)``), reload it through
    ``load_image`` and check it still fools ``model``."""
    big, (left, top) = canvas(image, spec)
    with frozen(model):
        fn = Normalised(model, spec.mean, spec.std)
        dev = model_device(model)
        moved = replace(result, pixels=result.pixels.to(dev), clean=result.clean.to(dev))
        q, steps, radius = quantise(moved, fn, max_steps=max_steps)
        crop = q[0].permute(1, 2, 0).cpu().numpy().astype(np.uint8)
        big.paste(Image.fromarray(crop[..., 0] if crop.shape[-1] == 1 else crop), (left, top))
        data = png_bytes(big)
        back = reload_pixels(data, spec)
        with torch.no_grad():
            pred = int(fn(back.to(dev))[0].argmax())
    pixels = (q / 255).cpu()
    ok, same = _fools(pred, result), torch.equal(back, pixels)
    return PngExport(data, pixels, pred, ok, steps > 0, steps, int((q.cpu() - result.clean.cpu() * 255)
                                                                     .abs().max().round()), same,
                     _message(ok, steps, radius, same))


def _message(ok: bool, steps: int, radius: int, same: bool) -> str:
    if radius == 0:
        return ("ε is below one 8-bit level: rounding to whole levels removes the whole perturbation, so "
                "no 8-bit PNG within this budget can be adversarial. Raise ε to at least 1/255.")
    where = "" if same else " (the reloaded pixels differ from the exported ones: the loader changed them)"
    if ok and steps == 0:
        return f"Still adversarial after rounding to 8 bits and reloading through the app's loader{where}."
    if ok:
        return (f"Rounding to 8 bits undid the attack, so it was re-projected in 8-bit ({steps} one-level "
                f"steps inside ±{radius} levels); the reloaded PNG fools the model again{where}.")
    return (f"Rounding to 8 bits undid the attack and {steps} one-level steps inside ±{radius} levels did "
            f"not restore it: this PNG is NOT adversarial{where}. Try a larger ε or more steps.")
