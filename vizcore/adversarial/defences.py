"""Input-transformation defences from the course, and how to see through them.

Each ``Defence`` maps pixels (B, 3, H, W) in [0, 1] to pixels of the same shape:

* ``jpeg``       — JPEG re-compression at ``strength`` = quality (Dziugaite 2016, Guo 2018)
* ``blur``       — Gaussian blur, σ = ``strength`` pixels
* ``bits``       — bit-depth reduction to ``strength`` bits per channel (Xu 2018, feature squeezing)
* ``median``     — median filter of ``strength`` × ``strength`` (Xu 2018)
* ``resize_pad`` — random down-resize to r·H, r ∈ [``strength``, 1), zero-padded at a random place
  back to H × W (Xie 2018); randomised, so predictions average ``draws`` samples and count votes

For a defence-aware attack the defence must pass gradients: ``differentiable`` ones (blur, median,
resize-pad) are used as they are (with expectation over transformations for the random one); the
others get BPDA (Athalye 2018): the forward pass is the real defence, the backward pass the identity.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

KINDS: dict[str, str] = {
    "jpeg": "JPEG re-compression",
    "blur": "Gaussian blur",
    "bits": "Bit-depth reduction",
    "median": "Median filter",
    "resize_pad": "Random resize-and-pad",
}


@dataclass(frozen=True)
class Defence:
    """One input transformation: ``kind`` (a key of ``KINDS``) and its ``strength`` (JPEG quality,
    blur σ, bits, median size, or the smallest resize ratio); ``draws`` samples for random ones."""

    kind: str
    strength: float
    draws: int = 1

    def __post_init__(self) -> None:
        ok = {"jpeg": 1 <= self.strength <= 95, "blur": 0 < self.strength <= 5,
              "bits": 1 <= self.strength <= 8 and float(self.strength).is_integer(),
              "median": self.strength in (3, 5, 7), "resize_pad": 0.5 <= self.strength < 1}
        if self.kind not in KINDS:
            raise ValueError(f"unknown defence {self.kind!r}; choose one of {', '.join(KINDS)}")
        if not ok[self.kind]:
            raise ValueError(f"{KINDS[self.kind]}: strength {self.strength} is out of range")
        if self.draws < 1 or (not self.random and self.draws != 1):
            raise ValueError("draws must be ≥ 1, and 1 for a deterministic defence")

    @property
    def random(self) -> bool:
        """Does the transformation draw random numbers?"""
        return self.kind == "resize_pad"

    @property
    def differentiable(self) -> bool:
        """Can gradients pass through it as it is (else BPDA is used)?"""
        return self.kind in ("blur", "median", "resize_pad")

    @property
    def label(self) -> str:
        """Short description, e.g. ``JPEG re-compression (quality 75)``."""
        unit = {"jpeg": "quality {:g}", "blur": "σ = {:g} px", "bits": "{:g} bits", "median": "{:g}×{:g}",
                "resize_pad": "ratio ≥ {:g}"}[self.kind]
        extra = f", {self.draws} draws" if self.random else ""
        return f"{KINDS[self.kind]} ({unit.format(self.strength, self.strength)}{extra})"


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Encode each image of ``x`` (B, 3, H, W) as JPEG at ``quality`` with Pillow and decode it."""
    out = []
    for img in x.detach().cpu():
        arr = img.permute(1, 2, 0).mul(255).round().clamp(0, 255).byte().numpy()
        mode = "L" if arr.shape[-1] == 1 else "RGB"
        buf = io.BytesIO()
        Image.fromarray(arr[..., 0] if mode == "L" else arr).save(buf, format="JPEG", quality=int(quality))
        dec = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert(mode), dtype=np.float32) / 255
        out.append(torch.from_numpy(dec.reshape(*dec.shape[:2], -1).copy()).permute(2, 0, 1))
    return torch.stack(out).to(x.device)


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Depthwise Gaussian blur (radius ⌈3σ⌉, reflect padding) of (B, C, H, W)."""
    radius = max(1, int(np.ceil(3 * sigma)))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    c = x.shape[1]
    y = F.pad(x, (radius, radius, radius, radius), mode="reflect")
    y = F.conv2d(y, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(y, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def bit_depth(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Round every value to one of 2^bits levels in [0, 1]."""
    levels = 2 ** int(bits) - 1
    return torch.round(x * levels) / levels


def median_filter(x: torch.Tensor, size: int) -> torch.Tensor:
    """size × size median (reflect padding) of (B, C, H, W); gradients flow to the median element."""
    r = size // 2
    b, c, h, w = x.shape
    y = F.pad(x, (r, r, r, r), mode="reflect")
    patches = F.unfold(y.reshape(b * c, 1, h + 2 * r, w + 2 * r), size)  # (B·C, size², H·W)
    return patches.median(dim=1).values.reshape(b, c, h, w)


def resize_pad(x: torch.Tensor, min_ratio: float, gen: torch.Generator) -> torch.Tensor:
    """Each image of (B, C, H, W): bilinear resize to r·(H, W), r ~ U[min_ratio, 1), then zero-pad at
    a random offset back to (H, W). Differentiable in ``x``."""
    b, _, h, w = x.shape
    out = []
    for i in range(b):
        r = min_ratio + (1 - min_ratio) * float(torch.rand((), generator=gen))
        nh, nw = max(1, round(r * h)), max(1, round(r * w))
        small = F.interpolate(x[i:i + 1], size=(nh, nw), mode="bilinear", align_corners=False,
                              antialias=False)
        top = int(torch.randint(0, h - nh + 1, (), generator=gen))
        left = int(torch.randint(0, w - nw + 1, (), generator=gen))
        out.append(F.pad(small, (left, w - nw - left, top, h - nh - top)))
    return torch.cat(out)


def transform(defence: Defence, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """Apply ``defence`` to (B, 3, H, W) in [0, 1] (one draw for a random defence)."""
    kind, s = defence.kind, defence.strength
    if kind == "jpeg":
        return jpeg(x, int(s))
    if kind == "blur":
        return gaussian_blur(x, float(s))
    if kind == "bits":
        return bit_depth(x, int(s))
    if kind == "median":
        return median_filter(x, int(s))
    return resize_pad(x, float(s), gen if gen is not None else torch.Generator().manual_seed(0))


def through(defence: Defence, x: torch.Tensor, gen: torch.Generator | None = None) -> torch.Tensor:
    """``transform`` with gradients: as is when differentiable, else BPDA (forward = defence,
    backward = identity: ``x + (T(x) − x).detach()``)."""
    if defence.differentiable:
        return transform(defence, x, gen)
    return x + (transform(defence, x.detach(), gen) - x).detach()
