"""Class activation maps: Grad-CAM and its variants, top-k in one pass, Score-CAM.

Every CAM here is ``ReLU(sum_k w_k A_k)`` over the K channels of a layer's activation ``A`` (1, K, h, w);
the methods differ only in the channel weights ``w_k`` (or pixel weights, for Layer-CAM):

* Grad-CAM (Selvaraju 2017):  w_k = mean_ij dY/dA_kij
* Grad-CAM++ (Chattopadhay 2018): w_k = sum_ij a_kij ReLU(g_kij),
  a = g² / (2 g² + sum_ij A_k · g³)   (exp-score closed form, as in the paper's code)
* XGrad-CAM (Fu 2020): w_k = sum_ij A_kij g_kij / sum_ij A_kij
* Layer-CAM (Jiang 2021): cam = ReLU(sum_k ReLU(g_k) ⊙ A_k)  (pixel-wise weights)
* Score-CAM (Wang 2020): w_k = softmax(f(x ⊙ M_k))_c, M_k = A_k upsampled, min-max scaled

Gradients come from one forward with the layer ``tap``-ped (autograd starts at the layer) and
``torch.autograd.grad`` from the logit to the layer: no parameter gradients, no ``.backward()``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vizcore.core.hooks import batch_size_for, conv_layer_names, frozen_once, model_device, tap

GRAD_CAMS = ("gradcam", "gradcam++", "xgradcam", "layercam")
EPS = 1e-7
PIXEL_PERCENTILE = 99.5  # pixel-resolution maps are scaled so the top 0.5 % of pixels saturate


@dataclass(frozen=True)
class CamResult:
    """One explanation map. ``heatmap`` (H, W) float32 in [0, 1] at input resolution (0 = no
    evidence); ``raw`` the map before upsampling/scaling ((h, w) for CAMs, (H, W) for pixel methods);
    ``message`` explains a degenerate map (e.g. constant) and is ``None`` otherwise."""

    heatmap: np.ndarray
    raw: np.ndarray
    target: int
    layer: str
    method: str
    seconds: float
    message: str | None = None


def default_cam_layer(model: nn.Module) -> str:
    """The last ``nn.Conv2d`` of ``model`` (used when no layer is given)."""
    names = conv_layer_names(model)
    if not names:
        raise ValueError(f"{type(model).__name__} has no Conv2d layer; pass layer= explicitly")
    return names[-1]


def check_target(target: int, num_classes: int) -> int:
    """Validate a class index; raises ``ValueError`` with the valid range."""
    if not isinstance(target, (int, np.integer)) or isinstance(target, bool):
        raise ValueError(f"class index must be an integer, got {target!r}")
    if not 0 <= int(target) < num_classes:
        raise ValueError(f"class index {target} is out of range: this model has classes 0–{num_classes - 1}")
    return int(target)


def to_heatmap(raw: torch.Tensor, size: tuple[int, int], layer: str) -> tuple[np.ndarray, str | None]:
    """(h, w) non-negative map → ((H, W) float32 in [0, 1] (bilinear, divided by max), message)."""
    up = F.interpolate(raw[None, None].float(), size=size, mode="bilinear", align_corners=False)[0, 0]
    up = up.clamp_min(0)
    top = float(up.max()) if up.numel() else 0.0
    if not np.isfinite(top):
        return np.zeros(size, np.float32), "The map contains non-finite values; nothing to show."
    if top <= 0:
        return np.zeros(size, np.float32), (
            "The map is all zero: no part of this layer's activation argues *for* the class "
            "(every weighted sum is negative). Try another layer or class.")
    msg = None
    if raw.numel() == 1 or float(raw.max() - raw.min()) <= 1e-12 * top:
        msg = (f"The map is constant: layer {layer!r} has a {tuple(raw.shape)} output, so it cannot "
               "say *where* anything is. Choose an earlier convolutional layer.")
    return (up / top).numpy().astype(np.float32), msg


def unit_scale(raw: np.ndarray, *, q: float = 100.0) -> np.ndarray:
    """Non-negative map → [0, 1] by dividing by its ``q``-th percentile (clipped); ``q`` < 100 keeps
    sparse pixel maps visible (a few extreme pixels would otherwise make everything else dark)."""
    raw = np.nan_to_num(np.asarray(raw, np.float32), nan=0.0, posinf=0.0, neginf=0.0).clip(min=0)
    top = float(np.percentile(raw, q)) if raw.size else 0.0
    top = top if top > 0 else (float(raw.max()) if raw.size else 0.0)
    return (raw / top).clip(0, 1).astype(np.float32) if top > 0 else np.zeros(raw.shape, np.float32)


def _check_input(x: torch.Tensor, *, batch: bool = False) -> None:
    if x.dim() != 4 or (x.shape[0] != 1 and not batch) or x.shape[0] < 1:
        want = "(B, C, H, W)" if batch else "(1, C, H, W)"
        raise ValueError(f"expected an input of shape {want}, got {tuple(x.shape)}")


def activation_and_logits(model: nn.Module, x: torch.Tensor, layer: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward with ``layer`` tapped: (activation leaf (B, K, h, w), logits (B, classes)) for ``x``
    (B, C, H, W). The graph from the activation to the logits is kept for ``torch.autograd.grad``.
    """
    _check_input(x, batch=True)
    with tap(model, [layer]) as store, torch.enable_grad():
        logits = model(x.to(model_device(model)))
    if layer not in store:
        raise ValueError(f"layer {layer!r} did not run during the forward pass")
    act = store[layer]
    if act.dim() != 4:
        raise ValueError(f"layer {layer!r} has no spatial extent (output shape {tuple(act.shape)}); "
                         "choose a convolutional layer")
    return act, logits


def cam_from(method: str, act: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """(K, h, w) activation + gradient → (h, w) map ≥ 0 for one of ``GRAD_CAMS``."""
    a, g = act.detach().float(), grad.float()
    if method == "gradcam":
        w = g.mean(dim=(1, 2))
    elif method == "gradcam++":
        g2, g3 = g.pow(2), g.pow(3)
        denom = 2 * g2 + a.sum(dim=(1, 2))[:, None, None] * g3
        alpha = torch.where(g != 0, g2 / torch.where(denom != 0, denom, torch.ones_like(denom)),
                            torch.zeros_like(g))
        w = (alpha * g.clamp_min(0)).sum(dim=(1, 2))
    elif method == "xgradcam":
        w = (a * g).sum(dim=(1, 2)) / (a.sum(dim=(1, 2)) + EPS)
    elif method == "layercam":
        return (g.clamp_min(0) * a).sum(0).clamp_min(0)
    else:
        raise ValueError(f"unknown CAM method {method!r}; choose one of {', '.join(GRAD_CAMS)}")
    return (w[:, None, None] * a).sum(0).clamp_min(0)


def gradient_cams(model: nn.Module, x: torch.Tensor, *, method: str = "gradcam", layer: str | None = None,
                  targets: int | Sequence[int] | None = None) -> tuple[CamResult, ...]:
    """A gradient CAM (``GRAD_CAMS``) for every image of ``x`` (B, C, H, W): ONE forward and one backward
    for the whole batch (samples do not interact in eval mode, so d(Σ_i y_i,t_i)/dA_i = dy_i,t_i/dA_i).
    ``targets``: one class for all, one per image, or ``None`` (each image's predicted class)."""
    if method not in GRAD_CAMS:
        raise ValueError(f"unknown CAM method {method!r}; choose one of {', '.join(GRAD_CAMS)}")
    layer = layer or default_cam_layer(model)
    start = time.perf_counter()
    with frozen_once(model):
        act, logits = activation_and_logits(model, x, layer)
        chosen = _targets(targets, logits)
        picked = logits[torch.arange(len(chosen)), torch.tensor(chosen, device=logits.device)]
        (grad,) = torch.autograd.grad(picked.sum(), act)
    seconds = time.perf_counter() - start
    out = []
    for i, t in enumerate(chosen):
        raw = cam_from(method, act[i], grad[i])
        heat, msg = to_heatmap(raw, tuple(x.shape[-2:]), layer)
        out.append(CamResult(heat, raw.numpy(), t, layer, method, seconds, msg))
    return tuple(out)


def _targets(targets: int | Sequence[int] | None, logits: torch.Tensor) -> list[int]:
    """One validated class index per row of ``logits`` (B, classes)."""
    b, classes = logits.shape
    if targets is None:
        return [int(i) for i in logits.detach().argmax(1)]
    if isinstance(targets, (int, np.integer)) and not isinstance(targets, bool):
        return [check_target(targets, classes)] * b
    chosen = [check_target(t, classes) for t in targets]
    if len(chosen) != b:
        raise ValueError(f"got {len(chosen)} targets for a batch of {b}")
    return chosen


def gradient_cam(model: nn.Module, x: torch.Tensor, *, method: str = "gradcam", layer: str | None = None,
                 target: int | None = None) -> CamResult:
    """A gradient CAM (``GRAD_CAMS``) of ``x`` (1, C, H, W) for ``target`` (default: top class)."""
    _check_input(x)
    return gradient_cams(model, x, method=method, layer=layer, targets=target)[0]


def grad_cam(model: nn.Module, x: torch.Tensor, layer: str | None = None,
             target: int | None = None) -> CamResult:
    """Grad-CAM of ``x`` (1, 3, H, W) at ``layer`` (default: last conv) for ``target`` (default: the
    predicted class). ``.heatmap`` is (H, W) in [0, 1]; equals captum's ``LayerGradCam`` with
    ``relu_attributions=True``, bilinearly upsampled and divided by its maximum."""
    return gradient_cam(model, x, method="gradcam", layer=layer, target=target)


@dataclass(frozen=True)
class TopKPass:
    """CAMs of the top-k classes (best first) and the (num_classes,) float32 logits of the same forward."""

    cams: tuple[CamResult, ...]
    logits: np.ndarray


def top_k_cams(model: nn.Module, x: torch.Tensor, *, layer: str | None = None, k: int = 5,
               method: str = "gradcam") -> tuple[CamResult, ...]:
    """CAMs for the ``k`` highest-scoring classes from ONE forward and one batched vector-Jacobian
    product (``is_grads_batched=True``) for ``x`` (1, C, H, W). Each result's ``seconds`` is the shared
    total."""
    return top_k_pass(model, x, layer=layer, k=k, method=method).cams


def top_k_pass(model: nn.Module, x: torch.Tensor, *, layer: str | None = None, k: int = 5,
               method: str = "gradcam") -> TopKPass:
    """``top_k_cams`` plus the logits of its forward (a prediction for free)."""
    _check_input(x)
    layer = layer or default_cam_layer(model)
    start = time.perf_counter()
    with frozen_once(model):
        act, logits = activation_and_logits(model, x, layer)
        k = max(1, min(k, logits.shape[1]))
        top = logits[0].detach().topk(k).indices
        onehot = torch.zeros(k, *logits.shape, dtype=logits.dtype, device=logits.device)
        onehot[torch.arange(k), 0, top] = 1
        try:
            (grads,) = torch.autograd.grad(logits, act, onehot, is_grads_batched=True)
        except RuntimeError:  # an op without a batching rule: fall back to k backward passes
            grads = torch.stack([torch.autograd.grad(logits, act, onehot[i], retain_graph=True)[0]
                                 for i in range(k)])
    seconds = time.perf_counter() - start
    out = []
    for i, t in enumerate(top.tolist()):
        raw = cam_from(method, act[0], grads[i, 0])
        heat, msg = to_heatmap(raw, tuple(x.shape[-2:]), layer)
        out.append(CamResult(heat, raw.numpy(), t, layer, method, seconds, msg))
    return TopKPass(tuple(out), logits[0].detach().float().cpu().numpy())


def score_cam(model: nn.Module, x: torch.Tensor, *, layer: str | None = None, target: int | None = None,
              batch_size: int | None = None, max_channels: int | None = None,
              progress: Callable[[float], None] | None = None) -> CamResult:
    """Score-CAM: each channel, upsampled and min-max scaled to [0, 1], masks the input; the masked
    input's softmax probability of ``target`` is that channel's weight. Costs one forward per channel
    (batched by ``batch_size``); ``max_channels`` keeps only the most active channels (by mean
    activation) to bound the cost. ``progress(fraction)`` is called after every batch. ``x`` (1, C, H, W).
    """
    _check_input(x)
    layer = layer or default_cam_layer(model)
    start = time.perf_counter()
    dev = model_device(model)
    batch_size = batch_size or batch_size_for(model, 8)
    with frozen_once(model):
        act, logits = activation_and_logits(model, x, layer)
        target = int(logits[0].argmax()) if target is None else check_target(target, logits.shape[1])
        a = act[0].detach()
        channels = torch.arange(a.shape[0])
        if max_channels is not None and max_channels < a.shape[0]:
            channels = a.mean(dim=(1, 2)).topk(max_channels).indices.sort().values
        weights = torch.zeros(a.shape[0])
        with torch.no_grad():
            for lo in range(0, len(channels), batch_size):
                idx = channels[lo:lo + batch_size]
                m = F.interpolate(a[idx][:, None], size=x.shape[-2:], mode="bilinear", align_corners=False)
                mn = m.amin(dim=(2, 3), keepdim=True)
                mx = m.amax(dim=(2, 3), keepdim=True)
                m = torch.where(mx > mn, (m - mn) / (mx - mn).clamp_min(EPS), torch.zeros_like(m))
                probs = torch.softmax(model(x.to(dev) * m), dim=1)[:, target]
                weights[idx] = probs.float().cpu()
                if progress is not None:
                    progress(min(1.0, (lo + len(idx)) / len(channels)))
    raw = (weights[:, None, None] * a.float().cpu()).sum(0).clamp_min(0)
    heat, msg = to_heatmap(raw, tuple(x.shape[-2:]), layer)
    return CamResult(heat, raw.numpy(), target, layer, "scorecam", time.perf_counter() - start, msg)
