"""Guided backpropagation that really rectifies on ``nn.ReLU6`` and in-place ``nn.ReLU``.

captum's ``GuidedBackprop`` overrides only ``nn.ReLU`` through module backward hooks, so on ReLU6
networks (EfficientNet-Lite0, MobileNetV2) it silently returns the plain input gradient, and the hooks
break on in-place ReLU. Here every ``nn.ReLU`` / ``nn.ReLU6`` is swapped, inside a ``with`` block, for
a module whose autograd function passes back only *positive* gradients where the unit was active
(Springenberg et al. 2015): ``grad_in = grad_out · [0 < x < cap] · [grad_out > 0]``. The original
modules are put back in ``finally``. Functional activations (``F.relu`` in a ``forward``) cannot be
swapped; ``guided_relus`` reports how many modules it replaced.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn

from vizcore.core.hooks import frozen, model_device
from vizcore.explain.cam import PIXEL_PERCENTILE, CamResult, check_target, gradient_cam, unit_scale

RECTIFIERS = (nn.ReLU, nn.ReLU6)


class _GuidedClamp(torch.autograd.Function):
    """clamp(x, 0, cap) forward; guided (positive-only, active-only) gradient backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, cap: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.cap = cap
        return x.clamp(0, cap) if math.isfinite(cap) else x.clamp_min(0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        (x,) = ctx.saved_tensors
        active = (x > 0) & (x < ctx.cap)
        return grad * (active & (grad > 0)).to(grad.dtype), None


class GuidedRectifier(nn.Module):
    """Stand-in for a ``nn.ReLU`` (cap = inf) or ``nn.ReLU6`` (cap = 6); never in-place."""

    def __init__(self, original: nn.Module) -> None:
        super().__init__()
        self.cap = 6.0 if isinstance(original, nn.ReLU6) else math.inf

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same values as the original activation, guided gradient."""
        return _GuidedClamp.apply(x, self.cap)


@contextmanager
def guided_relus(model: nn.Module) -> Iterator[int]:
    """Swap every ``nn.ReLU``/``nn.ReLU6`` of ``model`` for a ``GuidedRectifier``; yields how many.

    The originals are restored on exit, also when the body raises. Hold the model's lock: other
    threads would see the swapped modules.
    """
    swapped: list[tuple[nn.Module, str, nn.Module]] = []
    try:
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, RECTIFIERS):
                    setattr(parent, name, GuidedRectifier(child))
                    swapped.append((parent, name, child))
        yield len(swapped)
    finally:
        for parent, name, child in reversed(swapped):
            setattr(parent, name, child)


def input_gradient(model: nn.Module, x: torch.Tensor, target: int | None = None,
                   *, guided: bool = False) -> tuple[torch.Tensor, int, int]:
    """d logit_target / d x for ``x`` (1, 3, H, W): (gradient (1, 3, H, W), target, rectifiers swapped).

    With ``guided`` the rectifiers pass back only positive gradients (guided backprop)."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected an input of shape (1, C, H, W), got {tuple(x.shape)}")
    with frozen(model):
        ctx = guided_relus(model) if guided else _none()
        with ctx as n, torch.enable_grad():
            xi = x.detach().to(model_device(model)).requires_grad_(True)
            logits = model(xi)
            target = int(logits[0].argmax()) if target is None else check_target(target, logits.shape[1])
            (grad,) = torch.autograd.grad(logits[0, target], xi)
    return grad.detach().cpu(), target, n


@contextmanager
def _none() -> Iterator[int]:
    yield 0


def _pixel_map(grad: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) gradient → (H, W) max |g| over channels, scaled to [0, 1] (zeros if constant)."""
    return unit_scale(grad[0].abs().amax(0).float().numpy(), q=PIXEL_PERCENTILE)


def guided_backprop(model: nn.Module, x: torch.Tensor, target: int | None = None) -> CamResult:
    """Guided backprop of ``x`` (1, 3, H, W); ``raw`` is the (H, W) max-|gradient| over colours."""
    start = time.perf_counter()
    grad, target, n = input_gradient(model, x, target, guided=True)
    msg = None if n else "This model has no ReLU/ReLU6 modules, so guided backprop equals the plain gradient."
    raw = grad[0].abs().amax(0).numpy()
    return CamResult(_pixel_map(grad), raw, target, "input", "guided", time.perf_counter() - start, msg)


def guided_grad_cam(model: nn.Module, x: torch.Tensor, *, layer: str | None = None,
                    target: int | None = None) -> CamResult:
    """Guided Grad-CAM (Selvaraju 2017): guided backprop ⊙ upsampled Grad-CAM, (H, W) in [0, 1]."""
    start = time.perf_counter()
    cam = gradient_cam(model, x, method="gradcam", layer=layer, target=target)
    grad, target, n = input_gradient(model, x, cam.target, guided=True)
    prod = grad[0].abs().amax(0).numpy() * cam.heatmap
    heat = unit_scale(prod, q=PIXEL_PERCENTILE)
    msg = cam.message or (None if heat.any() else "The map is all zero (Grad-CAM is zero everywhere).")
    if not n:
        msg = "This model has no ReLU/ReLU6 modules, so the guided part equals the plain gradient."
    return CamResult(heat, prod.astype(np.float32), target, cam.layer, "guided_gradcam",
                     time.perf_counter() - start, msg)
