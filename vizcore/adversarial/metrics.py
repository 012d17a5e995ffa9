"""How big is a perturbation? L∞ and L2 in 8-bit pixel levels, PSNR and SSIM.

SSIM follows Wang et al. 2004 as scikit-image computes it with ``gaussian_weights=True``: an 11 × 11
Gaussian window (σ = 1.5, truncated at 3.5 σ), K₁ = 0.01, K₂ = 0.03, population covariances, data
range 1, averaged over the pixels whose window lies fully inside the image and over the channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class Distortion:
    """Size of ``adv − clean``: ``linf`` / ``l2`` in 8-bit levels (1 level = 1/255), ``psnr`` in dB
    (``inf`` when identical), ``ssim`` in [−1, 1] (1 = identical)."""

    linf: float
    l2: float
    psnr: float
    ssim: float


def _gaussian(sigma: float = 1.5, truncate: float = 3.5) -> torch.Tensor:
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _blur_valid(x: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Separable 'valid' filter of (C, 1, H, W) with the 1-D kernel ``k``."""
    x = F.conv2d(x, k.view(1, 1, 1, -1))
    return F.conv2d(x, k.view(1, 1, -1, 1))


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two images (1, 3, H, W) or (3, H, W) in [0, 1] (computed in float64)."""
    a = a.detach().reshape(-1, 1, *a.shape[-2:]).double().cpu()
    b = b.detach().reshape(-1, 1, *b.shape[-2:]).double().cpu()
    k = _gaussian()
    if min(a.shape[-2:]) < k.numel():
        raise ValueError(f"SSIM needs images of at least {k.numel()}×{k.numel()} pixels")
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mu_a, mu_b = _blur_valid(a, k), _blur_valid(b, k)
    var_a = _blur_valid(a * a, k) - mu_a ** 2
    var_b = _blur_valid(b * b, k) - mu_b ** 2
    cov = _blur_valid(a * b, k) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)
    return float((num / den).mean())


def distortion(clean: torch.Tensor, adv: torch.Tensor) -> Distortion:
    """L∞, L2 (8-bit levels), PSNR (dB, peak 1) and SSIM between two (1, 3, H, W) images in [0, 1]."""
    if clean.shape != adv.shape:
        raise ValueError(f"shapes differ: {tuple(clean.shape)} vs {tuple(adv.shape)}")
    d = (adv.detach().double() - clean.detach().double()).cpu()
    mse = float(d.pow(2).mean())
    psnr = math.inf if mse == 0 else 10 * math.log10(1.0 / mse)
    return Distortion(float(d.abs().max()) * 255, float(d.norm()) * 255, psnr, ssim(clean, adv))
