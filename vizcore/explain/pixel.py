"""Pixel attributions through captum — the only module that imports captum.

Each captum method is built per call (no shared state) for the attributions it implements correctly on
every model here: ``Saliency``, ``NoiseTunnel`` (SmoothGrad), ``IntegratedGradients``, ``Occlusion``.
captum's ``GuidedBackprop``/``GuidedGradCam`` are NOT used: they override only ``nn.ReLU`` through
module backward hooks, so they are plain gradients on ReLU6 models and fail on in-place ReLU (captum
#973); ``vizcore.explain.guided`` does guided backprop by swapping the rectifiers instead. Saliency and
the gradient paths never hook modules, so in-place ReLU models work.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Occlusion, Saliency
from torch import nn

from vizcore.core.hooks import frozen, model_device
from vizcore.explain.cam import PIXEL_PERCENTILE, CamResult, check_target, unit_scale

Progress = Callable[[float], None]


def _result(attr: torch.Tensor, *, reduce: str, target: int, method: str, start: float) -> CamResult:
    """(1, C, H, W) attribution → CamResult; ``reduce``: 'absmax' | 'abssum' | 'pos' (mean, ReLU)."""
    a = attr.detach().float().cpu()[0]
    if reduce == "absmax":
        raw = a.abs().amax(0)
    elif reduce == "abssum":
        raw = a.sum(0).abs()
    else:
        raw = a.mean(0).clamp_min(0)
    heat = unit_scale(raw.numpy(), q=100.0 if reduce == "pos" else PIXEL_PERCENTILE)
    msg = None if heat.any() else "The map is all zero: nothing in the photo raises this class's score here."
    return CamResult(heat, raw.numpy(), target, "input", method, time.perf_counter() - start, msg)


def _prepare(model: nn.Module, x: torch.Tensor, target: int | None) -> tuple[torch.Tensor, int]:
    """``x`` on the model's device as a fresh leaf that requires grad, and the validated target."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected an input of shape (1, C, H, W), got {tuple(x.shape)}")
    x = x.detach().to(model_device(model))
    with torch.inference_mode():
        logits = model(x)
    target = int(logits[0].argmax()) if target is None else check_target(target, logits.shape[1])
    return x.clone().requires_grad_(True), target  # captum would set requires_grad (with a warning)


def saliency(model: nn.Module, x: torch.Tensor, *, target: int | None = None) -> CamResult:
    """|d score / d pixel|, max over colours, for ``x`` (1, C, H, W) (Simonyan 2014)."""
    start = time.perf_counter()
    with frozen(model):
        xg, target = _prepare(model, x, target)
        attr = Saliency(model).attribute(xg, target=target, abs=True)
    return _result(attr, reduce="absmax", target=target, method="saliency", start=start)


def smoothgrad(model: nn.Module, x: torch.Tensor, *, target: int | None = None, samples: int = 16,
               sigma: float = 0.15, batch_size: int = 8) -> CamResult:
    """Saliency averaged over ``samples`` noisy copies (noise σ = ``sigma`` × the input's range).
    The noise is seeded (same map every call) and the global RNG is left as it was."""
    start = time.perf_counter()
    with frozen(model):
        xg, target = _prepare(model, x, target)
        stdev = sigma * float((xg.max() - xg.min()).detach())
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            attr = NoiseTunnel(Saliency(model)).attribute(
                xg, nt_type="smoothgrad", nt_samples=samples, nt_samples_batch_size=min(samples, batch_size),
                stdevs=stdev, target=target)
    return _result(attr, reduce="absmax", target=target, method="smoothgrad", start=start)


def integrated_gradients(model: nn.Module, x: torch.Tensor, *, target: int | None = None, steps: int = 32,
                         batch_size: int = 8) -> CamResult:
    """Integrated Gradients from a zero (mean-colour) baseline in ``steps`` steps; map = |Σ_c IG_c|."""
    start = time.perf_counter()
    with frozen(model):
        xg, target = _prepare(model, x, target)
        attr = IntegratedGradients(model).attribute(
            xg, baselines=torch.zeros_like(xg), target=target, n_steps=steps,
            internal_batch_size=min(steps, batch_size))
    return _result(attr, reduce="abssum", target=target, method="ig", start=start)


def occlusion(model: nn.Module, x: torch.Tensor, *, target: int | None = None, window: int = 32,
              stride: int = 16, batch_size: int = 8, progress: Progress | None = None) -> CamResult:
    """Score drop when a ``window``² patch (stride ``stride``) is set to 0 (the mean colour)."""
    start = time.perf_counter()
    h, w = x.shape[-2:]
    if not (0 < stride <= window <= min(h, w)):
        raise ValueError(f"occlusion needs 0 < stride ≤ window ≤ {min(h, w)}, got {stride}, {window}")
    n = ((h - window) // stride + 1) * ((w - window) // stride + 1)
    total, calls = 1 + -(-n // batch_size), [0]

    def forward(inp: torch.Tensor) -> torch.Tensor:
        out = model(inp)
        calls[0] += 1
        if progress is not None:
            progress(min(1.0, calls[0] / total))
        return out

    with frozen(model):
        xg, target = _prepare(model, x, target)
        with torch.no_grad():
            attr = Occlusion(forward).attribute(
                xg.detach(), sliding_window_shapes=(x.shape[1], window, window),
                strides=(x.shape[1], stride, stride), target=target, baselines=0.0,
                perturbations_per_eval=batch_size)
    return _result(attr, reduce="pos", target=target, method="occlusion", start=start)
