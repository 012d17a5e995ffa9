"""Backward pass of a convolution, computed from its step plan (torch is only the test oracle).

The forward window picture run backwards: every output cell ``y[o, i, j]`` with upstream gradient
``g = ∂L/∂y[o, i, j]`` sends ``g × weight`` back to each input cell it read and ``g × input`` to each
weight it used, and ``g`` to its bias. Overlapping windows add up. Summed over all cells, the kernel
gradient is a correlation of the input with ``g``, and the input gradient is a transposed
convolution of ``g`` with the same kernel (``transpose_args`` gives its settings).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vizcore.lab.stepping import StepPlan


@dataclass(frozen=True)
class ConvGradients:
    """Gradients of ``L = Σ g · y`` for a convolution plan with input (C, H, W) and output (O, Ho, Wo).

    ``grad_out`` (O, Ho, Wo) = g; ``grad_weight`` (O, C/groups, kh, kw); ``grad_bias`` (O,);
    ``grad_padded`` (C, Hp, Wp) over the padded grid — what lands on padding cells is dropped (a
    padding zero is a constant, not an input); ``grad_input`` (C, H, W) = ``grad_padded`` without
    its border; ``coverage`` (Hp, Wp) how many windows read each cell (= terms in its sum).
    """

    grad_out: np.ndarray
    grad_weight: np.ndarray
    grad_bias: np.ndarray
    grad_padded: np.ndarray
    grad_input: np.ndarray
    coverage: np.ndarray


@dataclass(frozen=True)
class TransposeArgs:
    """Settings with which ``conv_transpose2d(g, w, …)`` equals the input gradient (per side: H, W)."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    output_padding: tuple[int, int]
    dilation: tuple[int, int]


def conv_backward(plan: StepPlan, grad_out: np.ndarray) -> ConvGradients:
    """Send ``grad_out`` (O, Ho, Wo) back through every window of the convolution ``plan``.

    Equals ``torch.autograd.grad`` of ``(F.conv2d(x, w, b, …) * grad_out).sum()`` w.r.t. x, w, b.
    """
    if not plan.op.has_gradients:
        raise ValueError("conv_backward needs an ordinary convolution (or depthwise) plan, "
                         f"not {plan.op.label}.")
    g = np.asarray(grad_out, np.float64)
    if g.shape != plan.output.shape:
        raise ValueError(f"grad_out must have shape {plan.output.shape}; got {g.shape}.")
    first = plan.steps[0]
    grad_w = np.zeros((plan.output.shape[0], *first.weights.shape))
    grad_pad = np.zeros(plan.padded.shape)
    coverage = np.zeros(plan.kinds.shape, np.int64)
    for s in plan.steps:
        if s.out[0] == first.out[0]:  # every output channel uses the same window positions
            np.add.at(coverage, (s.rows[0], s.cols[0]), 1)
        gv = g[s.out]
        if gv == 0.0:
            continue
        grad_w[s.out[0]] += gv * s.values  # g × the input under each tap
        np.add.at(grad_pad, (s.channels[:, None, None], s.rows, s.cols), gv * s.weights)
    t, b, left, r = plan.pad
    hp, wp = plan.kinds.shape
    return ConvGradients(g, grad_w, g.sum(axis=(1, 2)), grad_pad,
                         grad_pad[:, t:hp - b, left:wp - r].copy(), coverage)


def one_cell(plan: StepPlan, out: tuple[int, int, int]) -> np.ndarray:
    """An upstream gradient (O, Ho, Wo) that is 1 at output cell ``out`` = (o, i, j), 0 elsewhere."""
    if not all(0 <= v < n for v, n in zip(out, plan.output.shape, strict=True)):
        raise ValueError(f"Output cell {out} is outside the output {plan.output.shape}.")
    g = np.zeros(plan.output.shape)
    g[out] = 1.0
    return g


def transpose_args(plan: StepPlan) -> TransposeArgs | None:
    """How the input gradient is a transposed convolution of g: ``conv_transpose2d(g, w, stride,
    padding, output_padding, dilation, groups)``; ``None`` for uneven ('same') padding, which
    ``conv_transpose2d`` cannot express. ``output_padding`` gives back the rows/columns at the
    bottom/right that no window reached (their gradient is 0)."""
    t, b, left, r = plan.pad
    if t != b or left != r:
        return None
    (hp, wp), (kh, kw) = plan.kinds.shape, plan.kernel
    ho, wo = plan.output.shape[1:]
    (sh, sw), (dh, dw) = plan.stride, plan.dilation
    reached = ((ho - 1) * sh + dh * (kh - 1) + 1, (wo - 1) * sw + dw * (kw - 1) + 1)
    return TransposeArgs(plan.stride, (t, left), (hp - reached[0], wp - reached[1]), plan.dilation)


@dataclass(frozen=True)
class Routing:
    """Pooling backward: ``grad_out`` (C, Ho, Wo) → ``grad_in`` (C, H, W); ``shares[t]`` (kh, kw) is
    what step t sends to each window cell (max: all to the winner; average: 1/k² to each)."""
    grad_out: np.ndarray
    grad_in: np.ndarray
    shares: tuple[np.ndarray, ...]


def pool_backward(plan: StepPlan, grad_out: np.ndarray) -> Routing:
    """Route ``grad_out`` (C, Ho, Wo) back through pooling ``plan`` (= autograd; padding shares dropped)."""
    if not plan.op.is_pool:
        raise ValueError("pool_backward needs a pooling plan.")
    grad_out = np.asarray(grad_out, np.float64)
    if grad_out.shape != plan.output.shape:
        raise ValueError(f"grad_out must have shape {plan.output.shape}; got {grad_out.shape}.")
    g = np.zeros(plan.padded.shape)
    shares = []
    for s in plan.steps:
        share = s.weights[0] * grad_out[s.out]
        np.add.at(g[s.out[0]], (s.rows[0], s.cols[0]), share)
        shares.append(share)
    t, b, left, r = plan.pad
    h, w = g.shape[1:]
    return Routing(grad_out, g[:, t:h - b, left:w - r], tuple(shares))
