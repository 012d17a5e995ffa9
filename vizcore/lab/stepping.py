"""Convolution and pooling step geometry as plain data (torch is only the test oracle).

Each function returns a ``StepPlan``: the padded input, a ``kinds`` grid (real / padding / inserted
zero), the output, and one ``Step`` per output cell (row-major) with the input indices, values,
products and result. Inputs ``x`` are ``(C, H, W)`` float arrays (``(H, W)`` = one channel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from vizcore.lab.settings import Op

REAL, PAD, ZERO = 0, 1, 2  # values of the ``kinds`` grid
Padding = int | Literal["same"]


@dataclass(frozen=True)
class Step:
    """One output cell. ``rows``/``cols``/``values``/``weights``/``products`` are (G, kh, kw) for the
    G input ``channels`` seen (indices into the padded grid); ``channel_sums`` (G,); ``value`` =
    ``total`` + ``bias``, before any activation. Pooling: ``weights`` = 1/k² (avg) or a one-hot of
    the ``winner`` (max; flat index in the window, −1 for average)."""

    out: tuple[int, int, int]
    channels: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    weights: np.ndarray
    products: np.ndarray
    channel_sums: np.ndarray
    total: float
    bias: float
    value: float
    winner: int = -1


@dataclass(frozen=True)
class StepPlan:
    """All steps of one operation. ``padded`` (C, Hp, Wp), ``kinds`` (Hp, Wp), ``output`` (O, Ho, Wo);
    ``pad`` = (top, bottom, left, right) (negative = cropped); ``formula`` with numbers substituted."""

    op: Op
    padded: np.ndarray
    kinds: np.ndarray
    output: np.ndarray
    steps: tuple[Step, ...]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pad: tuple[int, int, int, int]
    formula: str

    def __len__(self) -> int:
        return len(self.steps)


def _pair(v: int | tuple[int, int], name: str) -> tuple[int, int]:
    a, b = (v, v) if isinstance(v, int | np.integer) else tuple(v)
    if a < 1 or b < 1:
        raise ValueError(f"{name} must be at least 1 (got {v}).")
    return int(a), int(b)


def _as_chw(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or min(x.shape) < 1:
        raise ValueError(f"Input must be (C, H, W) or (H, W); got shape {x.shape}.")
    return x


def out_size(n: int, k: int, *, stride: int = 1, pad: int = 0, dilation: int = 1) -> int:
    """``floor((n + 2p − d(k−1) − 1) / s) + 1`` (may be ≤ 0: the settings are impossible)."""
    return (n + 2 * pad - dilation * (k - 1) - 1) // stride + 1


def size_formula(n: int, k: int, *, stride: int, pad_total: int, dilation: int) -> str:
    """The output-size formula with these numbers substituted (``pad_total`` = both sides)."""
    span = dilation * (k - 1) + 1
    o = (n + pad_total - span) // stride + 1
    return (f"⌊(n + 2p − d(k−1) − 1) / s⌋ + 1 = ⌊({n} + {pad_total} − {dilation}·{k - 1} − 1) / "
            f"{stride}⌋ + 1 = ⌊{n + pad_total - span} / {stride}⌋ + 1 = {o}")


def same_padding(k: int, dilation: int) -> tuple[int, int]:
    """Padding (before, after) that keeps the size at stride 1, split like torch's ``'same'``."""
    total = dilation * (k - 1)
    return total // 2, total - total // 2


def _resolve_pad(padding: Padding, kh: int, kw: int, dil: tuple[int, int],
                 stride: tuple[int, int]) -> tuple[int, int, int, int]:
    if padding == "same":
        if stride != (1, 1):
            raise ValueError("'same' padding only exists for stride 1: with a larger stride the output "
                             "is smaller than the input whatever the padding.")
        t, b = same_padding(kh, dil[0])
        left, r = same_padding(kw, dil[1])
        return t, b, left, r
    if isinstance(padding, str) or int(padding) < 0:
        raise ValueError(f"padding must be 'same' or an integer ≥ 0 (got {padding!r}).")
    p = int(padding)
    return p, p, p, p


def _pad_grid(x: np.ndarray, pad: tuple[int, int, int, int], fill: float,
              kinds: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pad (or crop, for negative amounts) ``x`` (C, H, W); returns the grid and its kinds."""
    kinds = np.full(x.shape[1:], REAL, np.int8) if kinds is None else kinds
    t, b, left, r = pad
    c0 = ((max(-t, 0), max(-b, 0)), (max(-left, 0), max(-r, 0)))
    h, w = x.shape[1:]
    x = x[:, c0[0][0]:h - c0[0][1], c0[1][0]:w - c0[1][1]]
    kinds = kinds[c0[0][0]:h - c0[0][1], c0[1][0]:w - c0[1][1]]
    widths = ((max(t, 0), max(b, 0)), (max(left, 0), max(r, 0)))
    padded = np.pad(x, ((0, 0), *widths), constant_values=fill)
    return padded, np.pad(kinds, widths, constant_values=PAD)


def _window(i: int, j: int, stride: tuple[int, int], dil: tuple[int, int],
            kh: int, kw: int) -> tuple[np.ndarray, np.ndarray]:
    r = i * stride[0] + dil[0] * np.arange(kh)
    c = j * stride[1] + dil[1] * np.arange(kw)
    return np.repeat(r[:, None], kw, 1), np.repeat(c[None, :], kh, 0)


def _conv_on_padded(op: Op, padded: np.ndarray, kinds: np.ndarray, weight: np.ndarray,
                    bias: np.ndarray, stride: tuple[int, int], dil: tuple[int, int], groups: int,
                    pad: tuple[int, int, int, int], formula: str) -> StepPlan:
    c_in = padded.shape[0]
    c_out, cg, kh, kw = weight.shape
    if groups < 1 or c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide both the input channels ({c_in}) and the "
                         f"output channels ({c_out}).")
    if cg != c_in // groups:
        raise ValueError(f"The kernel expects {cg} input channels per group but the input has "
                         f"{c_in} channels in {groups} group(s) ({c_in // groups} per group).")
    ho = (padded.shape[1] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    wo = (padded.shape[2] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"The dilated kernel ({dil[0] * (kh - 1) + 1}×{dil[1] * (kw - 1) + 1}) is "
                         f"larger than the padded input ({padded.shape[1]}×{padded.shape[2]}): "
                         "there is no position to put it. Use a smaller kernel or dilation, or more "
                         "padding.")
    out = np.zeros((c_out, ho, wo))
    steps: list[Step] = []
    per_out = c_out // groups
    for o in range(c_out):
        chans = np.arange(cg) + (o // per_out) * cg
        for i in range(ho):
            for j in range(wo):
                rows, cols = _window(i, j, stride, dil, kh, kw)
                vals = padded[chans][:, rows, cols]
                prods = vals * weight[o]
                sums = prods.sum(axis=(1, 2))
                total = float(sums.sum())
                value = total + float(bias[o])
                out[o, i, j] = value
                steps.append(Step((o, i, j), chans, np.broadcast_to(rows, vals.shape),
                                  np.broadcast_to(cols, vals.shape), vals, weight[o], prods, sums,
                                  total, float(bias[o]), value))
    return StepPlan(op, padded, kinds, out, tuple(steps), (kh, kw), stride, dil, pad, formula)


def conv_steps(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None, stride: int = 1,
               padding: Padding = 0, dilation: int = 1, groups: int = 1) -> StepPlan:
    """Steps of ``F.conv2d(x, weight, bias, stride, padding, dilation, groups)`` (zero padding).

    ``x`` (C, H, W), ``weight`` (O, C/groups, kh, kw), ``bias`` (O,) or None (= 0).
    """
    x = _as_chw(x)
    weight = np.asarray(weight, dtype=np.float64)
    if weight.ndim != 4:
        raise ValueError(f"weight must be (out, in/groups, kh, kw); got shape {weight.shape}.")
    bias = np.zeros(weight.shape[0]) if bias is None else np.asarray(bias, np.float64).reshape(-1)
    st, dil = _pair(stride, "stride"), _pair(dilation, "dilation")
    kh, kw = weight.shape[2:]
    pad = _resolve_pad(padding, kh, kw, dil, st)
    padded, kinds = _pad_grid(x, pad, 0.0)
    formula = size_formula(x.shape[1], kh, stride=st[0], pad_total=pad[0] + pad[1], dilation=dil[0])
    op = Op.CONV if groups == 1 else Op.DEPTHWISE
    return _conv_on_padded(op, padded, kinds, weight, bias, st, dil, groups, pad, formula)


def conv_transpose_steps(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None = None,
                         stride: int = 1, padding: int = 0, output_padding: int = 0,
                         dilation: int = 1, groups: int = 1) -> StepPlan:
    """Steps of ``F.conv_transpose2d`` seen as an ordinary stride-1 convolution.

    The input gets ``stride − 1`` zeros inserted between pixels (kind ``ZERO``), ``d(k−1) − p``
    cells of padding on each side (plus ``output_padding`` at the bottom/right), and the kernel is
    flipped 180° with its in/out channels swapped. ``weight`` (C, O/groups, kh, kw).
    """
    x = _as_chw(x)
    w = np.asarray(weight, dtype=np.float64)
    if w.ndim != 4 or w.shape[0] != x.shape[0]:
        raise ValueError(f"weight must be (in={x.shape[0]}, out/groups, kh, kw); got {w.shape}.")
    if groups < 1 or x.shape[0] % groups:
        raise ValueError(f"groups={groups} must divide the input channels ({x.shape[0]}).")
    st, dil = _pair(stride, "stride"), _pair(dilation, "dilation")
    if padding < 0 or output_padding < 0:
        raise ValueError("padding and output_padding must be ≥ 0.")
    if output_padding >= max(st[0], dil[0]):
        raise ValueError(f"output_padding ({output_padding}) must be smaller than the stride or the "
                         f"dilation (torch's rule; here at most {max(st[0], dil[0]) - 1}).")
    (c, h, wd), (kh, kw) = x.shape, w.shape[2:]
    stuffed = np.zeros((c, (h - 1) * st[0] + 1, (wd - 1) * st[1] + 1))
    stuffed[:, ::st[0], ::st[1]] = x
    kinds = np.full(stuffed.shape[1:], ZERO, np.int8)
    kinds[::st[0], ::st[1]] = REAL
    qh, qw = dil[0] * (kh - 1) - padding, dil[1] * (kw - 1) - padding
    pad = (qh, qh + output_padding, qw, qw + output_padding)
    padded, kinds = _pad_grid(stuffed, pad, 0.0, kinds)
    cg = c // groups
    conv_w = w.reshape(groups, cg, w.shape[1], kh, kw).transpose(0, 2, 1, 3, 4)
    conv_w = conv_w.reshape(groups * w.shape[1], cg, kh, kw)[:, :, ::-1, ::-1]
    bias = np.zeros(conv_w.shape[0]) if bias is None else np.asarray(bias, np.float64).reshape(-1)
    o = (h - 1) * st[0] - 2 * padding + dil[0] * (kh - 1) + output_padding + 1
    formula = (f"(n − 1)·s − 2p + d(k−1) + output_padding + 1 = ({h} − 1)·{st[0]} − 2·{padding} + "
               f"{dil[0]}·{kh - 1} + {output_padding} + 1 = {o}")
    if o < 1:
        raise ValueError(f"The padding ({padding}) removes the whole output: {formula}.")
    return _conv_on_padded(Op.TRANSPOSED, padded, kinds, np.ascontiguousarray(conv_w), bias,
                           (1, 1), dil, groups, pad, formula)


def pool_steps(x: np.ndarray, kernel_size: int | tuple[int, int], stride: int | None = None,
               mode: Op | Literal["max", "avg"] = Op.MAX, padding: int = 0) -> StepPlan:
    """Steps of ``F.max_pool2d`` / ``F.avg_pool2d`` (count_include_pad) on every channel. Global
    average pooling = ``mode=Op.AVG``, ``kernel_size=(H, W)``. Max pads with −∞ (never wins)."""
    x = _as_chw(x)
    op = Op(mode) if mode in tuple(Op) else None
    if op not in (Op.MAX, Op.AVG):
        raise ValueError(f"mode must be 'max' or 'avg' (got {mode!r}).")
    kh, kw = _pair(kernel_size, "kernel_size")
    st = (kh, kw) if stride is None else _pair(stride, "stride")
    if padding < 0 or 2 * padding > min(kh, kw):
        raise ValueError(f"Pooling padding must be between 0 and half the window (torch's rule): "
                         f"a {kh}×{kw} window allows 0–{min(kh, kw) // 2}, not {padding}.")
    pad = (padding,) * 4
    padded, kinds = _pad_grid(x, pad, -np.inf if op is Op.MAX else 0.0)
    ho = (padded.shape[1] - kh) // st[0] + 1
    wo = (padded.shape[2] - kw) // st[1] + 1
    if ho < 1 or wo < 1:
        raise ValueError(f"The {kh}×{kw} window is larger than the input "
                         f"({x.shape[1]}×{x.shape[2]}).")
    out = np.zeros((x.shape[0], ho, wo))
    steps: list[Step] = []
    for ch in range(x.shape[0]):
        for i in range(ho):
            for j in range(wo):
                rows, cols = _window(i, j, st, (1, 1), kh, kw)
                vals = padded[ch, rows, cols]
                if op is Op.MAX:
                    win = int(np.argmax(vals))
                    wts = np.zeros((kh, kw))
                    wts.flat[win] = 1.0
                    value = float(vals.flat[win])
                    prods = np.where(wts > 0, vals, 0.0)
                else:
                    win = -1
                    wts = np.full((kh, kw), 1.0 / (kh * kw))
                    prods = vals * wts
                    value = float(prods.sum())
                out[ch, i, j] = value
                steps.append(Step((ch, i, j), np.array([ch]), rows[None], cols[None], vals[None],
                                  wts[None], prods[None], np.array([value]), value, 0.0, value, win))
    formula = size_formula(x.shape[1], kh, stride=st[0], pad_total=2 * padding, dilation=1)
    return StepPlan(op, padded, kinds, out, tuple(steps), (kh, kw), st, (1, 1), pad, formula)
