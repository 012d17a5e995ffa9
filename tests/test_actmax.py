"""Feature visualisation: parameterisation, transforms, objectives and the loop on tiny models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tests.conftest import assert_clean, count_hooks
from vizcore.featvis import Settings, Target, objectives, param, render, transforms

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


class Boom(nn.Module):
    """Fails if it ever runs: proves the loop stops after the target layer."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise AssertionError("ran past the target layer")


def tiny(seed: int = 0, *, tail: nn.Module | None = None) -> nn.Module:
    """Conv(3→4, 3×3) → ReLU → Conv(4→5, 3×3, stride 2) → [tail]; frozen, eval."""
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 5, 3, stride=2),
                        tail if tail is not None else nn.Identity())
    return net.eval().requires_grad_(False)


def classifier() -> nn.Module:
    torch.manual_seed(1)
    net = nn.Sequential(nn.Conv2d(3, 6, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(6, 4))
    return net.eval().requires_grad_(False)


FAST = Settings(size=32, steps=24, lr=0.08, seed=0)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000), channel=st.integers(0, 4))
def test_objective_increases(seed: int, channel: int) -> None:
    net = tiny(seed % 7)
    res = render(net, Target("channel", "2", (channel,)), mean=MEAN, std=STD,
                 settings=Settings(size=32, steps=24, seed=seed))
    h = res.history[:, 0]
    assert h[-6:].mean() > h[:6].mean()
    assert res.values[0] > h[0]
    assert_clean(net)


def test_neuron_and_logit_objectives_increase() -> None:
    net = tiny()
    res = render(net, Target("neuron", "2", (1, 3), row=2, col=3), mean=MEAN, std=STD, settings=FAST)
    assert (res.history[-1] > res.history[0]).all()
    clf = classifier()
    res = render(clf, Target("logit", "", (2,)), mean=MEAN, std=STD, settings=FAST)
    assert res.values[0] > res.history[0, 0]
    assert_clean(clf)


def test_deterministic_for_seed_and_batch_independent() -> None:
    net = tiny()
    t = Target("channel", "2", (3,))
    a = render(net, t, mean=MEAN, std=STD, settings=FAST)
    b = render(net, t, mean=MEAN, std=STD, settings=FAST)
    np.testing.assert_array_equal(a.images, b.images)
    c = render(net, t, mean=MEAN, std=STD, settings=Settings(size=32, steps=24, lr=0.08, seed=1))
    assert np.abs(a.images.astype(int) - c.images).mean() > 1
    batch = render(net, Target("channel", "2", (0, 3, 4)), mean=MEAN, std=STD, settings=FAST)
    assert np.abs(batch.images[1].astype(int) - a.images[0]).max() <= 2  # same image in a batch
    assert batch.images.shape == (3, 32, 32, 3) and batch.images.dtype == np.uint8


def test_runs_only_up_to_the_layer_and_leaves_model_clean() -> None:
    net = tiny(tail=Boom())
    grads = []
    res = render(net, Target("channel", "2", (0,)), mean=MEAN, std=STD, settings=FAST,
                 progress=lambda d, t, p: grads.append((d, t, p is not None)))
    assert res.values.shape == (1,)
    assert grads[-1] == (FAST.steps, FAST.steps, True) and sum(g[2] for g in grads) == 3
    assert_clean(net)


def test_failure_leaves_model_clean() -> None:
    net = tiny()
    net.train()
    net[0].weight.requires_grad_(True)
    with pytest.raises(ValueError, match="5 channels"):
        render(net, Target("channel", "2", (7,)), mean=MEAN, std=STD, settings=FAST)
    assert count_hooks(net) == 0 and net.training and net[0].weight.requires_grad
    assert net[0].weight.grad is None
    with pytest.raises(ValueError, match="No layer named"):
        render(net, Target("channel", "nope", (0,)), mean=MEAN, std=STD, settings=FAST)
    assert count_hooks(net) == 0


@pytest.mark.parametrize("bad", [
    lambda: Target("pixel", "2", (0,)), lambda: Target("channel", "2", ()),
    lambda: Target("channel", "", (0,)), lambda: Target("channel", "2", (-1,)),
    lambda: Settings(size=8), lambda: Settings(steps=0), lambda: Settings(polish=2.0),
])
def test_bad_requests_refused(bad) -> None:
    with pytest.raises(ValueError):
        bad()


def test_fft_parameterisation_roundtrip_and_range() -> None:
    scale = param.spectrum_scale(16)
    rgb = torch.rand(2, 3, 16, 16) * 0.9 + 0.05
    spec = param.rgb_to_spectrum(rgb, scale)
    torch.testing.assert_close(param.to_image(spec, scale), rgb, atol=1e-4, rtol=1e-4)
    img = param.to_image(param.init_spectrum([1, 2], 16), scale)
    assert img.shape == (2, 3, 16, 16) and img.min() > 0 and img.max() < 1
    assert abs(float(img.mean()) - 0.5) < 0.05  # starts near mid-grey
    assert scale[0, 0, 0, 0] == 16 and scale[0, 0, 0, 1] == pytest.approx(16)  # 1/max(f, 1/16)


def test_transforms() -> None:
    x = torch.rand(2, 3, 20, 20)
    ident = torch.tensor([[1.0, 0.0, 0.0, 0.0]] * 2)
    torch.testing.assert_close(transforms.affine(x, ident), x, atol=1e-5, rtol=0)
    shifted = transforms.affine(x, torch.tensor([[1.0, 0.0, 3.0, -2.0]] * 2))
    torch.testing.assert_close(shifted[..., 4:16, 5:15], x[..., 6:18, 2:12], atol=1e-5, rtol=0)
    quarter = transforms.affine(x, torch.tensor([[1.0, np.pi / 2, 0.0, 0.0]] * 2))
    assert any(torch.allclose(quarter, torch.rot90(x, k, (2, 3)), atol=1e-4) for k in (1, 3))
    assert transforms.pad(x, 3).shape == (2, 3, 26, 26) and transforms.pad(x, 3)[0, 0, 0, 0] == 0.5
    g1 = [torch.Generator().manual_seed(5)]
    g2 = [torch.Generator().manual_seed(5)]
    rob = transforms.Robustness().scaled(112)
    assert rob.pad == 6 and rob.jitter == 4
    torch.testing.assert_close(transforms.draw(g1, rob), transforms.draw(g2, rob))
    out = transforms.robust(x[:1], [torch.Generator().manual_seed(0)], rob)
    assert out.shape == (1, 3, 32, 32)


def test_objective_values_and_diversity() -> None:
    act = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).view(2, 3, 2, 2)
    v = objectives.values(act, Target("channel", "x", (1, 2)))
    torch.testing.assert_close(v, torch.tensor([act[0, 1].mean(), act[1, 2].mean()]))
    v = objectives.values(act, Target("neuron", "x", (0, 0), row=0, col=1))
    torch.testing.assert_close(v, torch.tensor([1.0, 13.0]))
    same = torch.rand(1, 4, 3, 3).repeat(3, 1, 1, 1)
    assert float(objectives.diversity(same)) == pytest.approx(-2.0, abs=1e-5)  # -(B-1)
    ortho = torch.zeros(2, 2, 1, 1)
    ortho[0, 0] = 1
    ortho[1, 1] = 1
    assert float(objectives.diversity(ortho)) == pytest.approx(0.0)


def test_diversity_makes_images_differ() -> None:
    net = tiny()
    s = Settings(size=32, steps=24, seed=0, diversity=5.0)
    res = render(net, Target("channel", "0", (1, 1)), mean=MEAN, std=STD, settings=s)
    assert np.abs(res.images[0].astype(int) - res.images[1]).mean() > 1


def test_lite0_mid_layer_quick(lite0) -> None:
    res = render(lite0.model, Target("channel", "_blocks.4", (0, 5)), mean=lite0.spec.mean,
                 std=lite0.spec.std, settings=Settings(size=64, steps=12))
    assert (res.history[-3:].mean(0) > res.history[:3].mean(0)).all()
    assert_clean(lite0.model)
