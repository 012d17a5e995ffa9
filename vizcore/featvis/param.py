"""FFT image parameterisation with decorrelated colour (as in lucid / lucent).

The optimised variable is a per-image Fourier spectrum; high frequencies are scaled down (1/f), so
plain gradient ascent favours smooth, natural-looking images. Colours live in a decorrelated space
(the square root of the ImageNet colour covariance), mapped back to RGB and squashed with a sigmoid.
"""

from __future__ import annotations

import torch

# Square root of the ImageNet colour covariance (lucid's `color_correlation_svd_sqrt`).
COLOR_SQRT = torch.tensor([[0.26, 0.09, 0.02],
                           [0.27, 0.00, -0.05],
                           [0.27, -0.09, 0.03]])
COLOR_NORMALISED = COLOR_SQRT / COLOR_SQRT.norm(dim=0).max()
MAGIC = 4.0  # lucid's spectrum scale: keeps the initial image close to mid-grey


def frequencies(size: int) -> torch.Tensor:
    """Radial frequency of each rfft2 bin, shape (size, size // 2 + 1)."""
    fy = torch.fft.fftfreq(size)[:, None]
    fx = torch.fft.rfftfreq(size)[None, :]
    return torch.sqrt(fx * fx + fy * fy)


def spectrum_scale(size: int, *, decay_power: float = 1.0) -> torch.Tensor:
    """1/f scaling of every frequency bin, shape (1, 1, size, size // 2 + 1) (lucid's choice)."""
    f = frequencies(size).clamp_min(1.0 / size)
    return (1.0 / f.pow(decay_power))[None, None]


def init_spectrum(seeds: list[int], size: int, *, sd: float = 0.01) -> torch.Tensor:
    """Random initial spectra, one per seed: real tensor (B, 3, size, size // 2 + 1, 2).

    Each batch item has its own generator so an image does not depend on what else is in the batch.
    """
    shape = (3, size, size // 2 + 1, 2)
    parts = [torch.randn(shape, generator=torch.Generator().manual_seed(s)) * sd for s in seeds]
    return torch.stack(parts)


def decorrelated_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Map (B, 3, H, W) decorrelated colour to RGB in (0, 1) (linear map, then sigmoid)."""
    mixed = torch.einsum("bchw,dc->bdhw", x, COLOR_NORMALISED.to(x))
    return torch.sigmoid(mixed)


def to_image(spectrum: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Spectrum (B, 3, S, S//2+1, 2) -> RGB image (B, 3, S, S) with values in (0, 1)."""
    size = spectrum.shape[2]
    complex_spec = torch.view_as_complex(spectrum) * scale
    x = torch.fft.irfftn(complex_spec, s=(size, size), norm="ortho") / MAGIC
    return decorrelated_to_rgb(x)


def rgb_to_spectrum(rgb: torch.Tensor, scale: torch.Tensor, *, eps: float = 1e-4) -> torch.Tensor:
    """Inverse of ``to_image`` for an RGB image (B, 3, S, S) in (0, 1) (used by tests)."""
    rgb = rgb.clamp(eps, 1 - eps)
    logits = torch.log(rgb) - torch.log1p(-rgb)
    x = torch.einsum("bdhw,cd->bchw", logits, torch.linalg.inv(COLOR_NORMALISED).to(rgb))
    spec = torch.fft.rfftn(x * MAGIC, dim=(-2, -1), norm="ortho") / scale
    return torch.view_as_real(spec).contiguous()

