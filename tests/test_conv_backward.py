"""vizcore.lab.backward against torch.autograd: ∂L/∂w, ∂L/∂x, ∂L/∂b of L = Σ g · conv2d(x, w, b)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vizcore.lab.backward import conv_backward, one_cell, transpose_args
from vizcore.lab.stepping import PAD, conv_steps, conv_transpose_steps, out_size, pool_steps

FAST = settings(max_examples=40, deadline=None)


def _rand(seed: int, *shape: int) -> np.ndarray:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()


def _oracle(x, w, b, g, **kw) -> tuple[np.ndarray, ...]:
    xt, wt, bt = (torch.from_numpy(a).requires_grad_(True) for a in (x[None], w, b))
    loss = (F.conv2d(xt, wt, bt, **kw) * torch.from_numpy(g)[None]).sum()
    return tuple(t.numpy() for t in torch.autograd.grad(loss, (xt, wt, bt)))


@FAST
@given(c=st.sampled_from([1, 2, 3, 4]), h=st.integers(1, 8), w=st.integers(1, 8),
       k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 3),
       g=st.sampled_from([1, 2, 4]), per=st.integers(1, 2), seed=st.integers(0, 10_000))
def test_conv_backward_matches_autograd(c, h, w, k, s, p, d, g, per, seed) -> None:
    g = g if c % g == 0 else 1
    if out_size(h, k, stride=s, pad=p, dilation=d) < 1 or out_size(w, k, stride=s, pad=p, dilation=d) < 1:
        return
    x, wt, b = _rand(seed, c, h, w), _rand(seed + 1, g * per, c // g, k, k), _rand(seed + 2, g * per)
    plan = conv_steps(x, wt, b, stride=s, padding=p, dilation=d, groups=g)
    up = _rand(seed + 3, *plan.output.shape)
    grads = conv_backward(plan, up)
    gx, gw, gb = _oracle(x, wt, b, up, stride=s, padding=p, dilation=d, groups=g)
    np.testing.assert_allclose(grads.grad_input, gx[0], atol=1e-9)
    np.testing.assert_allclose(grads.grad_weight, gw, atol=1e-9)
    np.testing.assert_allclose(grads.grad_bias, gb, atol=1e-9)
    # the padded grid holds the same numbers inside; what lands on padding is exactly what is dropped
    inside = plan.kinds != PAD
    np.testing.assert_allclose(grads.grad_padded[:, inside].reshape(gx[0].shape), gx[0], atol=1e-9)
    # the bridge: the input gradient is a transposed convolution of g with the same kernel
    ta = transpose_args(plan)
    assert ta is not None and max(ta.output_padding) < s  # torch's rule for output_padding holds
    ref = F.conv_transpose2d(torch.from_numpy(up)[None], torch.from_numpy(wt), stride=ta.stride,
                             padding=ta.padding, output_padding=ta.output_padding,
                             dilation=ta.dilation, groups=g)[0]
    np.testing.assert_allclose(grads.grad_input, ref.numpy(), atol=1e-9)
    if h == w and g == 1 and ta.output_padding[0] == ta.output_padding[1]:  # … and the lab's own op
        tp = conv_transpose_steps(up, wt, stride=s, padding=p, output_padding=ta.output_padding[0],
                                  dilation=d)
        np.testing.assert_allclose(tp.output, grads.grad_input, atol=1e-9)


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@FAST
@given(h=st.integers(2, 7), k=st.integers(1, 4), d=st.integers(1, 2), seed=st.integers(0, 999))
def test_one_cell_shows_its_window(h, k, d, seed) -> None:
    x, wt = _rand(seed, 3, h, h), _rand(seed + 1, 1, 3, k, k)
    plan = conv_steps(x, wt, padding="same", dilation=d)
    ho, wo = plan.output.shape[1:]
    cell = (0, seed % ho, (seed // 7) % wo)
    grads = conv_backward(plan, one_cell(plan, cell))
    step = plan.steps[cell[1] * wo + cell[2]]
    np.testing.assert_allclose(grads.grad_weight[0], step.values)  # ∂L/∂w = the inputs it read
    assert grads.grad_bias.tolist() == [1.0]
    gx, gw, gb = _oracle(x, wt, np.zeros(1), one_cell(plan, cell), padding="same", dilation=d)
    np.testing.assert_allclose(grads.grad_input, gx[0], atol=1e-12)
    np.testing.assert_allclose(grads.grad_weight, gw, atol=1e-12)
    np.testing.assert_allclose(grads.grad_bias, gb)
    for ch in range(3):  # ∂L/∂x = the weights it used, on the cells it read, nothing elsewhere
        mask = np.zeros(plan.kinds.shape, bool)
        mask[step.rows[ch], step.cols[ch]] = True
        assert not grads.grad_padded[ch][~mask].any()
        np.testing.assert_allclose(grads.grad_padded[ch][step.rows[ch], step.cols[ch]], wt[0, ch])


def test_hand_computed_tiny_case() -> None:
    # x = [[0 1 2] [3 4 5] [6 7 8]], 2×2 kernel [[1 2] [3 4]], g = [[1 0] [0 2]]
    x = np.arange(9.0).reshape(1, 3, 3)
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    plan = conv_steps(x, w, np.array([0.5]))
    grads = conv_backward(plan, np.array([[[1.0, 0.0], [0.0, 2.0]]]))
    # ∂L/∂w[a, b] = Σ g[i, j] · x[i + a, j + b] = 1·x[a, b] + 2·x[1 + a, 1 + b]
    assert grads.grad_weight[0, 0].tolist() == [[0 + 8, 1 + 10], [3 + 14, 4 + 16]]
    # ∂L/∂x: window (0, 0) sends 1·w to the top-left 2×2, window (1, 1) sends 2·w to the bottom-right
    assert grads.grad_input[0].tolist() == [[1, 2, 0], [3, 4 + 2, 4], [0, 6, 8]]
    assert grads.grad_bias.tolist() == [3.0]
    assert grads.coverage.tolist() == [[1, 2, 1], [2, 4, 2], [1, 2, 1]]
    # stride 2 on a 4×4 input with a 1×1 kernel: the last row/column is never read
    plan = conv_steps(np.ones((1, 4, 4)), np.ones((1, 1, 1, 1)), stride=2)
    grads = conv_backward(plan, np.ones((1, 2, 2)))
    assert grads.grad_input[0].tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]]
    assert transpose_args(plan).output_padding == (1, 1)


def test_padding_gradient_is_dropped() -> None:
    plan = conv_steps(np.ones((1, 2, 2)), np.ones((1, 1, 3, 3)), padding=1)
    grads = conv_backward(plan, np.ones((1, 2, 2)))
    assert grads.grad_padded[0].sum() == 4 * 9  # every window sends 9 × (1 × 1) back …
    assert grads.grad_input[0].tolist() == [[4, 4], [4, 4]]  # … only 16 of the 36 reach real cells
    assert transpose_args(conv_steps(np.ones((1, 4, 4)), np.ones((1, 1, 2, 2)), padding="same")) is None


def test_refuses_other_plans_and_shapes() -> None:
    plan = conv_steps(np.ones((1, 4, 4)), np.ones((1, 1, 3, 3)))
    with pytest.raises(ValueError, match="shape"):
        conv_backward(plan, np.ones((1, 3, 3)))
    with pytest.raises(ValueError, match="outside"):
        one_cell(plan, (0, 2, 0))
    with pytest.raises(ValueError, match="ordinary convolution"):
        conv_backward(pool_steps(np.ones((1, 4, 4)), 2), np.ones((1, 2, 2)))
