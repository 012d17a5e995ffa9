"""Classroom lab computations (cached by ``resources.compute``): step plans + the whole-image result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from models.registry import LoadedModel
from vizcore.core.images import LoadedImage
from vizcore.lab.backward import ConvGradients, conv_backward, one_cell
from vizcore.lab.kernels import LearnedFilter, first_conv_filter, preset, region_grid
from vizcore.lab.stepping import (
    Routing,
    StepPlan,
    conv_steps,
    conv_transpose_steps,
    pool_backward,
    pool_steps,
)

OPS = {"conv": "Convolution", "depthwise": "Depthwise (grouped) convolution",
       "transposed": "Transposed convolution (upsampling)", "max": "Max pooling",
       "avg": "Average pooling", "gap": "Global average pooling"}
MAX_STEPS = 1024
WHOLE_SIDE = 256


@dataclass(frozen=True)
class LabResult:
    """Everything the lab page draws. ``grid`` (C, n, n) region values; ``kernel`` (G, k, k) the
    kernel shown per input channel row; ``whole`` (H, W, 3) uint8 picture of the operation on the
    whole photo; ``routing`` only for pooling; ``grads`` (for g = all ones) only for convolution and
    depthwise convolution."""

    op: str
    plan: StepPlan
    routing: Routing | None
    grid: np.ndarray
    box: tuple[int, int, int, int]
    channel_names: tuple[str, ...]
    kernel: np.ndarray
    bias: float
    learned: LearnedFilter | None
    values_note: str
    whole: np.ndarray
    whole_note: str
    grads: ConvGradients | None = None


def conv_gradients(plan: StepPlan, cell: tuple[int, int, int] | None = None) -> ConvGradients:
    """Backward of a convolution plan for g = all ones (L = sum of the outputs) or, with ``cell`` =
    (channel, row, col), g = 1 at that one output cell only. Cheap numpy: no cache needed."""
    g = np.ones(plan.output.shape) if cell is None else one_cell(plan, cell)
    return conv_backward(plan, g)


def _kernel(loaded: LoadedModel, source: str, name: str, custom: tuple[tuple[float, ...], ...],
            k: int, index: int, fold_bn: bool) -> tuple[np.ndarray, float, LearnedFilter | None]:
    """(G or 1, k, k) kernel, bias, learned filter info."""
    if source == "learned":
        lf = first_conv_filter(loaded.model, index, fold_bn=fold_bn)
        return lf.weight, lf.bias, lf
    if source == "custom":
        arr = np.asarray(custom, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or not np.isfinite(arr).all():
            raise ValueError("The custom kernel must be a square grid of numbers (no empty cells).")
        return arr[None], 0.0, None
    return preset(name, k)[None], 0.0, None


def _whole(image: LoadedImage, op: str, weight: np.ndarray, bias: float, *, mean: np.ndarray | None,
           std: np.ndarray | None, rgb: bool, stride: int, padding: int | str, dilation: int,
           k: int, channel: int, output_padding: int = 0) -> np.ndarray:
    """The same operation on the whole photo (downscaled), as an RGB uint8 picture (H', W', 3)."""
    img = image.image.copy()
    img.thumbnail((WHOLE_SIDE if op != "transposed" else WHOLE_SIDE // 4,) * 2)
    a = np.asarray(img.convert("RGB" if rgb else "L"), dtype=np.float32) / 255.0
    x = torch.from_numpy(a.transpose(2, 0, 1) if rgb else a[None]).float()[None]
    if mean is not None:
        x = (x - torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)) / torch.tensor(
            std, dtype=torch.float32).view(1, 3, 1, 1)
    w = torch.from_numpy(weight).float()
    with torch.no_grad():
        if op in ("max", "avg"):
            fn = F.max_pool2d if op == "max" else F.avg_pool2d  # avg: padding zeros count (torch default)
            y = fn(x, k, stride, padding=int(padding))[0].clamp(0, 1)
            return (y.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
        if op == "transposed":
            y = F.conv_transpose2d(x, w, torch.tensor([bias]), stride=stride, padding=int(padding),
                                   output_padding=output_padding, dilation=dilation, groups=1)[0, 0]
        else:
            groups = x.shape[1] if op == "depthwise" else 1
            y = F.conv2d(x, w, torch.full((w.shape[0],), bias), stride=stride, padding=padding,
                         dilation=dilation, groups=groups)[0, channel if op == "depthwise" else 0]
    from vizcore.core.render import symmetric_colorize

    return symmetric_colorize(y.numpy())


def lab(loaded: LoadedModel, image: LoadedImage, *, op: str, grid: int, rgb: bool,
        centre: tuple[float, float], side: int, source: str, preset_name: str,
        custom: tuple[tuple[float, ...], ...], k: int, filter_index: int, fold_bn: bool,
        stride: int, padding: int | str, dilation: int, channel: int,
        output_padding: int = 0) -> LabResult:
    """Build the step plan of ``op`` on the chosen region (raises ValueError with a clear reason).

    ``padding`` is the border of the convolution or of max/average pooling (global pooling has
    none); ``output_padding`` only applies to the transposed convolution."""
    if op not in OPS:
        raise ValueError(f"Unknown operation {op!r}.")
    if op in ("max", "avg", "gap") and padding == "same":
        raise ValueError("Pooling has no 'same' padding: pick 0 … half the window.")
    if op != "transposed":
        output_padding = 0
    learned_src = source == "learned" and op in ("conv", "depthwise", "transposed")
    rgb = rgb or learned_src
    x, box = region_grid(image.image, centre, side, grid, rgb=rgb)
    names = ("R", "G", "B") if rgb else ("gray",)
    mean = std = None
    note = "Pixel values scaled to 0–1."
    if learned_src:
        spec = loaded.spec
        mean, std = np.asarray(spec.mean), np.asarray(spec.std)
        x = (x - mean[:, None, None]) / std[:, None, None]
        note = ("Pixel values normalised with the ImageNet mean/std, exactly as the model sees them "
                "(so the numbers match the network's own first layer).")
    c = x.shape[0]
    kern, bias, lf, routing = np.zeros((1, 1, 1)), 0.0, None, None
    if op in ("max", "avg", "gap"):
        size = (grid, grid) if op == "gap" else (k, k)
        padding = 0 if op == "gap" else int(padding)
        plan = pool_steps(x, size, None if op == "gap" else stride, "max" if op == "max" else "avg",
                          padding=padding)
        g_out = np.arange(1, plan.output.size + 1, dtype=np.float64).reshape(plan.output.shape)
        routing = pool_backward(plan, g_out)
        kern = np.full((1, *size), 1.0 / (size[0] * size[1]))
        w_whole = kern
    else:
        kern, bias, lf = _kernel(loaded, source, preset_name, custom, k, filter_index, fold_bn)
        if kern.shape[0] == 1 and c > 1:
            kern = np.repeat(kern, c, axis=0)
        if op == "conv":
            w_whole = kern[None]
            plan = conv_steps(x, w_whole, np.array([bias]), stride, padding, dilation)
        elif op == "depthwise":
            w_whole = kern[:, None]
            plan = conv_steps(x, w_whole, np.full(c, bias), stride, padding, dilation, groups=c)
        else:
            if padding == "same":
                raise ValueError("Transposed convolution has no 'same' padding: pick a number.")
            w_whole = kern[:, None]
            plan = conv_transpose_steps(x, w_whole, np.array([bias]), stride, int(padding),
                                        int(output_padding), dilation)
    if len(plan) > MAX_STEPS:
        raise ValueError(f"This would be {len(plan)} steps — too many to follow in class. Pick a "
                         "smaller grid or a larger stride.")
    whole = _whole(image, "avg" if op == "gap" else op, w_whole, bias, mean=mean, std=std, rgb=rgb,
                   stride=stride, padding=padding, dilation=dilation, k=k, channel=channel,
                   output_padding=int(output_padding))
    padded = f" (padding {padding})" if op in ("max", "avg") and padding else ""
    whole_note = {"max": f"max-pooled{padded}", "avg": f"average-pooled{padded}", "gap": "average-pooled "
                  f"({k}×{k} windows; global pooling would leave one number per channel)",
                  "transposed": "upsampled by the transposed convolution (blue < 0 < red)"}.get(
        op, "filtered (blue = negative, red = positive response)")
    grads = conv_gradients(plan) if plan.op == "conv" else None
    return LabResult(op, plan, routing, x, box, names, kern, bias, lf, note, whole,
                     f"The whole photo {whole_note}.", grads)
