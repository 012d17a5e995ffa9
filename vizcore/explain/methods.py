"""Every explanation method behind one signature: ``explain(model, x, method, *, layer, target, ...)``.

The only module that uses captum. captum methods are built per call (no shared state) for the pixel
attributions it implements correctly everywhere: ``Saliency``, ``NoiseTunnel`` (SmoothGrad),
``IntegratedGradients``, ``Occlusion``. The CAMs come from ``vizcore.explain.cam`` (Grad-CAM there equals
captum's ``LayerGradCam(relu_attributions=True)`` and is faster) and guided methods from
``vizcore.explain.guided``: captum's ``GuidedBackprop``/``GuidedGradCam`` override only ``nn.ReLU`` through
module backward hooks, so they are plain gradients on ReLU6 models and fail on in-place ReLU
(captum #973).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
from captum.attr import IntegratedGradients, NoiseTunnel, Occlusion, Saliency
from torch import nn

from vizcore.core.hooks import batch_size_for, frozen, model_device
from vizcore.explain.cam import GRAD_CAMS, CamResult, check_target, gradient_cam, score_cam, unit_scale
from vizcore.explain.guided import guided_backprop, guided_grad_cam

PIXEL_PERCENTILE = 99.5  # pixel maps are scaled so the top 0.5 % of pixels saturate


@dataclass(frozen=True)
class MethodInfo:
    """How a method is shown and what it costs. ``layer``: uses the target layer; ``slow``: many
    forwards (reports progress)."""

    label: str
    layer: bool
    slow: bool
    blurb: str


METHODS: dict[str, MethodInfo] = {
    "gradcam": MethodInfo("Grad-CAM", True, False, "channels weighted by their mean gradient"),
    "gradcam++": MethodInfo("Grad-CAM++", True, False, "positive gradients, weighted per pixel"),
    "xgradcam": MethodInfo("XGrad-CAM", True, False, "gradients weighted by the activation"),
    "layercam": MethodInfo("Layer-CAM", True, False, "positive gradient × activation, per pixel"),
    "scorecam": MethodInfo("Score-CAM", True, True, "each channel masks the photo; score = weight"),
    "guided_gradcam": MethodInfo("Guided Grad-CAM", True, False, "guided backprop × Grad-CAM"),
    "guided": MethodInfo("Guided backprop", False, False, "input gradient, only positive paths"),
    "saliency": MethodInfo("Saliency", False, False, "|d score / d pixel|"),
    "smoothgrad": MethodInfo("SmoothGrad", False, False, "saliency averaged over noisy copies"),
    "ig": MethodInfo("Integrated Gradients", False, False, "gradients summed along a path from a grey image"),
    "occlusion": MethodInfo("Occlusion", False, True, "score drop when a patch is greyed out"),
}


def _pixel_result(attr: torch.Tensor, *, reduce: str, target: int, method: str, start: float,
                  msg: str | None = None) -> CamResult:
    """(1, C, H, W) attribution → CamResult; ``reduce``: 'absmax' | 'abssum' | 'pos' (mean, ReLU)."""
    a = attr.detach().float().cpu()[0]
    if reduce == "absmax":
        raw = a.abs().amax(0)
    elif reduce == "abssum":
        raw = a.sum(0).abs()
    else:
        raw = a.mean(0).clamp_min(0)
    heat = unit_scale(raw.numpy(), q=100.0 if reduce == "pos" else PIXEL_PERCENTILE)
    if not heat.any():
        msg = msg or "The map is all zero: nothing in the photo raises this class's score here."
    return CamResult(heat, raw.numpy(), target, "input", method, time.perf_counter() - start, msg)


def _resolve_target(model: nn.Module, x: torch.Tensor, target: int | None) -> int:
    with torch.inference_mode():
        logits = model(x)
    return int(logits[0].argmax()) if target is None else check_target(target, logits.shape[1])


def _occlusion(model: nn.Module, x: torch.Tensor, target: int, *, window: int, stride: int,
               batch_size: int, progress: Callable[[float], None] | None) -> torch.Tensor:
    h, w = x.shape[-2:]
    if not (0 < stride <= window <= min(h, w)):
        raise ValueError(f"occlusion needs 0 < stride ≤ window ≤ {min(h, w)}, got {stride}, {window}")
    n = ((h - window) // stride + 1) * ((w - window) // stride + 1)
    total = 1 + -(-n // batch_size)
    calls = [0]

    def forward(inp: torch.Tensor) -> torch.Tensor:
        out = model(inp)
        calls[0] += 1
        if progress is not None:
            progress(min(1.0, calls[0] / total))
        return out

    with torch.no_grad():
        return Occlusion(forward).attribute(
            x, sliding_window_shapes=(x.shape[1], window, window), strides=(x.shape[1], stride, stride),
            target=target, baselines=0.0, perturbations_per_eval=batch_size)


def explain(model: nn.Module, x: torch.Tensor, method: str, *, layer: str | None = None,
            target: int | None = None, progress: Callable[[float], None] | None = None,
            smooth_samples: int = 16, smooth_sigma: float = 0.15, ig_steps: int = 32,
            occlusion_window: int = 32, occlusion_stride: int = 16, batch_size: int | None = None,
            scorecam_channels: int | None = None) -> CamResult:
    """Explain ``target`` (default: the predicted class) for ``x`` (1, 3, H, W) with ``method`` (a key of
    ``METHODS``). Returns a ``CamResult`` whose ``.heatmap`` is (H, W) in [0, 1]; ``layer`` is used by the
    CAM methods (default: the last conv layer); ``progress(fraction)`` is called by the slow ones.
    Model state is restored and no parameter gradient is left, also on error."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"expected an input of shape (1, C, H, W), got {tuple(x.shape)}")
    batch_size = batch_size or batch_size_for(model, 8)
    if method in GRAD_CAMS:
        return gradient_cam(model, x, method=method, layer=layer, target=target)
    if method == "scorecam":
        return score_cam(model, x, layer=layer, target=target, batch_size=batch_size,
                         max_channels=scorecam_channels, progress=progress)
    if method == "guided_gradcam":
        return guided_grad_cam(model, x, layer=layer, target=target)
    if method == "guided":
        return guided_backprop(model, x, target)
    start = time.perf_counter()
    with frozen(model):
        x = x.detach().to(model_device(model))
        target = _resolve_target(model, x, target)
        xg = x.clone().requires_grad_(True)  # captum would set it (with a warning) anyway
        if method == "saliency":
            attr = Saliency(model).attribute(xg, target=target, abs=True)
            return _pixel_result(attr, reduce="absmax", target=target, method=method, start=start)
        if method == "smoothgrad":
            sigma = smooth_sigma * float(x.max() - x.min())
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(0)  # same noise every call → cacheable, reproducible maps
                attr = NoiseTunnel(Saliency(model)).attribute(
                    xg, nt_type="smoothgrad", nt_samples=smooth_samples,
                    nt_samples_batch_size=min(smooth_samples, batch_size), stdevs=sigma, target=target)
            return _pixel_result(attr, reduce="absmax", target=target, method=method, start=start)
        if method == "ig":
            attr = IntegratedGradients(model).attribute(
                xg, baselines=torch.zeros_like(x), target=target, n_steps=ig_steps,
                internal_batch_size=min(ig_steps, batch_size))
            return _pixel_result(attr, reduce="abssum", target=target, method=method, start=start)
        attr = _occlusion(model, x, target, window=occlusion_window, stride=occlusion_stride,
                          batch_size=batch_size, progress=progress)
        return _pixel_result(attr, reduce="pos", target=target, method=method, start=start)
