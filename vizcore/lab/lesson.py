"""One Classroom-lab lesson from ``LabSettings``: region grid, kernel, step plan, backward data and
the same operation on the whole photo (torch). No Streamlit; the app caches ``lesson`` by settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from vizcore.core.render import symmetric_colorize
from vizcore.lab.backward import ConvGradients, Routing, conv_backward, one_cell, pool_backward
from vizcore.lab.kernels import LearnedFilter, first_conv_filter, preset, region_grid
from vizcore.lab.settings import LabSettings, Op, Source
from vizcore.lab.stepping import (
    StepPlan,
    conv_steps,
    conv_transpose_steps,
    pool_steps,
    same_padding,
    size_formula,
)

MAX_STEPS = 1024
WHOLE_SIDE = 256
Stats = tuple[tuple[float, float, float], tuple[float, float, float]]  # ImageNet (mean, std)


@dataclass(frozen=True)
class LabResult:
    """Everything the lab page draws. ``grid`` (C, n, n) region values; ``kernel`` (G, k, k) the
    kernel shown per input channel row; ``whole`` (H, W, 3) uint8 picture of the operation on the
    whole photo (None when not asked for); ``routing`` only for pooling; ``grads`` (for g = all
    ones) only for convolution and depthwise convolution."""

    op: Op
    plan: StepPlan
    routing: Routing | None
    grid: np.ndarray
    box: tuple[int, int, int, int]
    channel_names: tuple[str, ...]
    kernel: np.ndarray
    bias: float
    learned: LearnedFilter | None
    values_note: str
    whole: np.ndarray | None
    whole_note: str
    grads: ConvGradients | None = None


def formula(s: LabSettings) -> str:
    """The output-size formula with the numbers substituted (also for impossible settings)."""
    n, k = s.grid, (s.grid if s.op is Op.GAP else s.k)
    if s.op is Op.TRANSPOSED:
        p = 0 if s.padding == "same" else int(s.padding)
        o = (n - 1) * s.stride - 2 * p + s.dilation * (k - 1) + s.output_padding + 1
        return (f"(n − 1)·s − 2p + d(k−1) + output_padding + 1 = ({n} − 1)·{s.stride} − "
                f"2·{s.padding} + {s.dilation}·{k - 1} + {s.output_padding} + 1 = {o}")
    pad = 0 if s.op is Op.GAP else s.padding
    dil = s.dilation if s.op.is_conv else 1
    total = sum(same_padding(k, dil)) if pad == "same" else 2 * int(pad)
    return size_formula(n, k, stride=1 if s.op is Op.GAP else s.stride, pad_total=total, dilation=dil)


def conv_gradients(plan: StepPlan, cell: tuple[int, int, int] | None = None) -> ConvGradients:
    """Backward of a convolution plan for g = all ones (L = sum of the outputs) or, with ``cell`` =
    (channel, row, col), g = 1 at that one output cell only. Cheap numpy."""
    g = np.ones(plan.output.shape) if cell is None else one_cell(plan, cell)
    return conv_backward(plan, g)


def _kernel(model: nn.Module, s: LabSettings) -> tuple[np.ndarray, float, LearnedFilter | None]:
    """(G or 1, k, k) kernel, bias, learned filter info."""
    if s.source is Source.LEARNED:
        lf = first_conv_filter(model, s.filter_index, fold_bn=s.fold_bn)
        return lf.weight, lf.bias, lf
    if s.source is Source.CUSTOM:
        arr = np.asarray(s.custom, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or not np.isfinite(arr).all():
            raise ValueError("The custom kernel must be a square grid of numbers (no empty cells).")
        return arr[None], 0.0, None
    return preset(s.preset_name, s.k)[None], 0.0, None


def _check(s: LabSettings) -> None:
    if s.op.is_pool and s.padding == "same":
        raise ValueError("Pooling has no 'same' padding: pick 0 … half the window.")
    if s.op is Op.TRANSPOSED and s.padding == "same":
        raise ValueError("Transposed convolution has no 'same' padding: pick a number.")


def _plan(x: np.ndarray, s: LabSettings, kern: np.ndarray, bias: float) -> tuple[StepPlan, np.ndarray]:
    """The step plan of ``s.op`` on ``x`` (C, n, n) and the torch weight for the whole photo."""
    c = x.shape[0]
    if s.op.is_pool:
        size = (s.grid, s.grid) if s.op is Op.GAP else (s.k, s.k)
        pad = 0 if s.op is Op.GAP else int(s.padding)
        plan = pool_steps(x, size, None if s.op is Op.GAP else s.stride,
                          Op.MAX if s.op is Op.MAX else Op.AVG, padding=pad)
        return plan, np.full((1, *size), 1.0 / (size[0] * size[1]))
    if s.op is Op.CONV:
        w = kern[None]
        return conv_steps(x, w, np.array([bias]), s.stride, s.padding, s.dilation), w
    w = kern[:, None]
    if s.op is Op.DEPTHWISE:
        return conv_steps(x, w, np.full(c, bias), s.stride, s.padding, s.dilation, groups=c), w
    return conv_transpose_steps(x, w, np.array([bias]), s.stride, int(s.padding), s.output_padding,
                                s.dilation), w


def whole_picture(image: Image.Image, s: LabSettings, weight: np.ndarray, bias: float,
                  stats: Stats | None) -> np.ndarray:
    """The same operation on the whole photo (downscaled), as an RGB uint8 picture (H', W', 3).

    ``weight`` is the torch weight of ``s.op`` ((1, C, k, k) conv, (C, 1, k, k) depthwise and
    transposed; ignored by pooling); ``stats`` = (mean, std) when the region was normalised."""
    img = image.copy()
    img.thumbnail((WHOLE_SIDE if s.op is not Op.TRANSPOSED else WHOLE_SIDE // 4,) * 2)
    a = np.asarray(img.convert("RGB" if s.colour else "L"), dtype=np.float32) / 255.0
    x = torch.from_numpy(a.transpose(2, 0, 1) if s.colour else a[None]).float()[None]
    if stats is not None:
        mean, std = (torch.tensor(v, dtype=torch.float32).view(1, 3, 1, 1) for v in stats)
        x = (x - mean) / std
    w = torch.from_numpy(weight).float()
    with torch.no_grad():
        if s.op.is_pool:  # global pooling shows k×k average windows; padding zeros count (torch)
            fn = F.max_pool2d if s.op is Op.MAX else F.avg_pool2d
            pad = 0 if s.op is Op.GAP else int(s.padding)
            y = fn(x, s.k, 1 if s.op is Op.GAP else s.stride, padding=pad)[0].clamp(0, 1)
            return (y.numpy().transpose(1, 2, 0) * 255).astype(np.uint8)
        if s.op is Op.TRANSPOSED:
            y = F.conv_transpose2d(x, w, torch.tensor([bias]), stride=s.stride, padding=int(s.padding),
                                   output_padding=s.output_padding, dilation=s.dilation)[0, 0]
        else:
            groups = x.shape[1] if s.op is Op.DEPTHWISE else 1
            y = F.conv2d(x, w, torch.full((w.shape[0],), bias), stride=s.stride, padding=s.padding,
                         dilation=s.dilation, groups=groups)[0, s.channel if groups > 1 else 0]
    return symmetric_colorize(y.numpy())


def _whole_note(s: LabSettings) -> str:
    padded = f" (padding {s.padding})" if s.op in (Op.MAX, Op.AVG) and s.padding else ""
    note = {Op.MAX: f"max-pooled{padded}", Op.AVG: f"average-pooled{padded}",
            Op.GAP: f"average-pooled ({s.k}×{s.k} windows; global pooling would leave one number per "
            "channel)", Op.TRANSPOSED: "upsampled by the transposed convolution (blue < 0 < red)"}
    return f"The whole photo {note.get(s.op, 'filtered (blue = negative, red = positive response)')}."


def lesson(model: nn.Module, image: Image.Image, s: LabSettings, *, stats: Stats,
           whole: bool = True) -> LabResult:
    """Build the lesson of ``s`` on ``image`` (raises ValueError with a clear reason).

    ``model`` gives the learned filter; ``stats`` its input (mean, std), used only then."""
    _check(s)
    x, box = region_grid(image, s.centre, s.side, s.grid, rgb=s.colour)
    names = ("R", "G", "B") if s.colour else ("gray",)
    used, note = None, "Pixel values scaled to 0–1."
    if s.learned:
        used = stats
        mean, std = (np.asarray(v, dtype=np.float64)[:, None, None] for v in stats)
        x = (x - mean) / std
        note = ("Pixel values normalised with the ImageNet mean/std, exactly as the model sees them "
                "(so the numbers match the network's own first layer).")
    kern, bias, lf = (np.zeros((1, 1, 1)), 0.0, None) if s.op.is_pool else _kernel(model, s)
    if kern.shape[0] == 1 and x.shape[0] > 1:
        kern = np.repeat(kern, x.shape[0], axis=0)
    plan, w_whole = _plan(x, s, kern, bias)
    if s.op.is_pool:
        kern = w_whole
    if len(plan) > MAX_STEPS:
        raise ValueError(f"This would be {len(plan)} steps — too many to follow in class. Pick a "
                         "smaller grid or a larger stride.")
    routing = None
    if s.op.is_pool:
        routing = pool_backward(plan, np.arange(1, plan.output.size + 1, dtype=np.float64)
                                .reshape(plan.output.shape))
    picture = whole_picture(image, s, w_whole, bias, used) if whole else None
    grads = conv_gradients(plan) if s.op.has_gradients else None
    return LabResult(s.op, plan, routing, x, box, names, kern, bias, lf, note, picture,
                     _whole_note(s), grads)
