"""vizcore.lab.stepping against torch: every step equals F.conv2d / pooling / conv_transpose2d."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from vizcore.lab.backward import pool_backward
from vizcore.lab.stepping import (
    PAD,
    REAL,
    ZERO,
    conv_steps,
    conv_transpose_steps,
    out_size,
    pool_steps,
)

FAST = settings(max_examples=40, deadline=None)


def _rand(seed: int, *shape: int) -> np.ndarray:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).numpy()


def _check_steps(plan, ref: np.ndarray) -> None:
    assert len(plan.steps) == ref.size
    np.testing.assert_allclose(plan.output, ref, atol=1e-9)
    for s in plan.steps:
        assert s.value == pytest.approx(ref[s.out], abs=1e-9)
        assert s.total == pytest.approx(s.products.sum(), abs=1e-12)
        np.testing.assert_allclose(s.values, plan.padded[s.channels[:, None, None], s.rows, s.cols])


@FAST
@given(c=st.sampled_from([1, 2, 3, 4]), h=st.integers(1, 9), w=st.integers(1, 9),
       k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2), d=st.integers(1, 3),
       g=st.sampled_from([1, 2, 4]), per=st.integers(1, 2), seed=st.integers(0, 10_000))
def test_conv_steps_match_conv2d(c, h, w, k, s, p, d, g, per, seed) -> None:
    if c % g:
        g = 1
    o = g * per
    ho, wo = out_size(h, k, stride=s, pad=p, dilation=d), out_size(w, k, stride=s, pad=p, dilation=d)
    x, wt, b = _rand(seed, c, h, w), _rand(seed + 1, o, c // g, k, k), _rand(seed + 2, o)
    if ho < 1 or wo < 1:
        with pytest.raises(ValueError, match="larger than the padded input"):
            conv_steps(x, wt, b, stride=s, padding=p, dilation=d, groups=g)
        return
    plan = conv_steps(x, wt, b, stride=s, padding=p, dilation=d, groups=g)
    ref = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(wt), torch.from_numpy(b),
                   stride=s, padding=p, dilation=d, groups=g)[0].numpy()
    assert ref.shape == (o, ho, wo)  # the number of steps equals the formula
    _check_steps(plan, ref)
    assert f"= {ho}" in plan.formula


@FAST
@given(h=st.integers(1, 8), k=st.integers(1, 5), d=st.integers(1, 2), seed=st.integers(0, 999))
def test_same_padding_matches_torch(h, k, d, seed) -> None:
    x, wt = _rand(seed, 3, h, h + 1), _rand(seed + 1, 2, 3, k, k)
    plan = conv_steps(x, wt, padding="same", dilation=d)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = F.conv2d(torch.from_numpy(x)[None], torch.from_numpy(wt), padding="same", dilation=d)[0]
    _check_steps(plan, ref.numpy())
    assert plan.output.shape[1:] == x.shape[1:]


@FAST
@given(c=st.sampled_from([1, 2, 4]), h=st.integers(1, 6), w=st.integers(1, 6),
       k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 3), d=st.integers(1, 2),
       op=st.integers(0, 2), g=st.sampled_from([1, 2]), seed=st.integers(0, 10_000))
def test_transposed_steps_match_conv_transpose2d(c, h, w, k, s, p, d, op, g, seed) -> None:
    if c % g:
        g = 1
    x, wt, b = _rand(seed, c, h, w), _rand(seed + 1, c, 2, k, k), _rand(seed + 2, 2 * g)
    o = (h - 1) * s - 2 * p + d * (k - 1) + op + 1
    o2 = (w - 1) * s - 2 * p + d * (k - 1) + op + 1
    if op >= max(s, d) or o < 1 or o2 < 1:
        with pytest.raises(ValueError):
            conv_transpose_steps(x, wt, b, stride=s, padding=p, output_padding=op, dilation=d,
                                 groups=g)
        return
    plan = conv_transpose_steps(x, wt, b, stride=s, padding=p, output_padding=op, dilation=d,
                                groups=g)
    ref = F.conv_transpose2d(torch.from_numpy(x)[None], torch.from_numpy(wt), torch.from_numpy(b),
                             stride=s, padding=p, output_padding=op, dilation=d, groups=g)[0]
    _check_steps(plan, ref.numpy())
    assert f"= {o}" in plan.formula


def test_transposed_grid_marks_inserted_zeros() -> None:
    plan = conv_transpose_steps(np.ones((1, 2, 2)), np.ones((1, 1, 3, 3)), stride=2, padding=1)
    # 2×2 input, stride 2 → 3×3 stuffed grid with one zero between pixels, padded by 2·1−1 = 1
    assert plan.kinds.shape == (5, 5)
    assert plan.kinds[2, 2] == ZERO and plan.kinds[1, 1] == REAL and plan.kinds[0, 0] == PAD
    assert plan.output.shape == (1, 3, 3)


@FAST
@given(c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9), k=st.integers(1, 4),
       s=st.integers(1, 3), p=st.integers(0, 2), mode=st.sampled_from(["max", "avg"]),
       seed=st.integers(0, 10_000))
def test_pool_steps_and_backward_match_torch(c, h, w, k, s, p, mode, seed) -> None:
    x = _rand(seed, c, h, w)
    if 2 * p > k or out_size(h, k, stride=s, pad=p) < 1 or out_size(w, k, stride=s, pad=p) < 1:
        with pytest.raises(ValueError):
            pool_steps(x, k, s, mode, padding=p)
        return
    plan = pool_steps(x, k, s, mode, padding=p)
    xt = torch.from_numpy(x)[None].requires_grad_(True)
    fn = F.max_pool2d if mode == "max" else F.avg_pool2d
    y = fn(xt, k, s, p)
    _check_steps(plan, y[0].detach().numpy())
    if mode == "max":
        for step in plan.steps:
            assert step.values.flat[step.winner] == step.values.max()
    up = _rand(seed + 5, *y.shape[1:])
    (ref,) = torch.autograd.grad(y, xt, torch.from_numpy(up)[None])
    routing = pool_backward(plan, up)
    np.testing.assert_allclose(routing.grad_in, ref[0].numpy(), atol=1e-9)
    assert (plan.kinds == PAD).sum() == plan.kinds.size - h * w  # a border of p cells, marked
    on_pad, fill = 0.0, (-np.inf if mode == "max" else 0.0)  # like torch: max pads with −∞
    for step, share in zip(plan.steps, routing.shares, strict=True):  # nothing is lost or created
        assert share.sum() == pytest.approx(up[step.out], abs=1e-9)
        pad_cells = plan.kinds[step.rows[0], step.cols[0]] == PAD
        assert (step.values[0][pad_cells] == fill).all()
        if mode == "max":  # −∞ padding never wins, so it never receives gradient
            assert not pad_cells.flat[step.winner]
        on_pad += float(share[pad_cells].sum())
    # what lands on padding (average pooling only) is exactly what autograd drops
    assert routing.grad_in.sum() == pytest.approx(up.sum() - on_pad, abs=1e-9)


def test_global_average_pool() -> None:
    x = _rand(3, 3, 5, 7)
    plan = pool_steps(x, (5, 7), mode="avg")
    assert len(plan) == 3
    np.testing.assert_allclose(plan.output[:, 0, 0], x.mean(axis=(1, 2)))


def test_hand_computed_conv() -> None:
    x = np.arange(9.0).reshape(3, 3)
    plan = conv_steps(x, np.ones((1, 1, 2, 2)), np.array([0.5]))
    first = plan.steps[0]
    assert first.values[0].tolist() == [[0, 1], [3, 4]]
    assert first.value == 8.5
    assert plan.output[0].tolist() == [[8.5, 12.5], [20.5, 24.5]]


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(stride=2, padding="same"), "only exists for stride 1"),
    (dict(padding=-1), "integer ≥ 0"),
    (dict(stride=0), "at least 1"),
    (dict(groups=2), "must divide"),
])
def test_bad_settings_are_explained(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        conv_steps(np.ones((3, 5, 5)), np.ones((1, 3, 3, 3)), **kwargs)


def test_pool_backward_refuses_wrong_shape() -> None:
    plan = pool_steps(np.ones((1, 4, 4)), 2)
    with pytest.raises(ValueError, match="shape"):
        pool_backward(plan, np.ones((1, 3, 3)))
