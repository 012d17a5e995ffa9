"""Attacks against oracles: FGSM in closed form on a hand-set linear model, PGD inside the ε-ball and
[0, 1], torchattacks FGSM / PGD (test-only oracle) with the same settings and start, clean model state
after success and failure."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import assert_clean, count_hooks
from vizcore.adversarial import Normalised, attack
from vizcore.adversarial.attacks import iterate

MEAN, STD = (0.4, 0.5, 0.6), (0.2, 0.25, 0.3)


def linear_model(classes: int = 3, side: int = 4) -> nn.Module:
    """Flatten + Linear with hand-set weights W[k, j] = sin(k + 0.37 j) and bias b[k] = 0.1 k."""
    lin = nn.Linear(3 * side * side, classes)
    k, j = np.meshgrid(np.arange(classes), np.arange(3 * side * side), indexing="ij")
    with torch.no_grad():
        lin.weight.copy_(torch.from_numpy(np.sin(k + 0.37 * j)).float())
        lin.bias.copy_(0.1 * torch.arange(classes, dtype=torch.float32))
    return nn.Sequential(nn.Flatten(), lin).eval().requires_grad_(False)


def tiny_cnn(seed: int = 0, classes: int = 6) -> nn.Module:
    """A small random CNN (deterministic weights) for fast iterative-attack tests."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2),
                              nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, classes))
    return model.eval().requires_grad_(False)


def photo(side: int = 16, seed: int = 1) -> torch.Tensor:
    """Random pixels with many values exactly at 0 and 1 (so clipping is exercised)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(1, 3, side, side, generator=g) * 1.4 - 0.2).clamp(0, 1)


def test_fgsm_equals_closed_form_on_a_linear_model() -> None:
    model, x = linear_model(), photo(4, seed=3)
    eps = 3 / 255
    # by hand (numpy, float64): logits z = W((x − m)/s) + b; ∂CE/∂x = Wᵀ(softmax(z) − e_y) / s
    w = model[1].weight.double().numpy()
    m = np.repeat(np.asarray(MEAN), 16)
    s = np.repeat(np.asarray(STD), 16)
    xf = x.double().flatten().numpy()
    z = w @ ((xf - m) / s) + model[1].bias.double().numpy()
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    y = int(z.argmax())
    grad = (w.T @ (p - np.eye(3)[y])) / s
    expected = np.clip(xf + eps * np.sign(grad), 0, 1)
    res = attack(model, x, mean=MEAN, std=STD, method="fgsm", eps=eps)
    np.testing.assert_allclose(res.pixels.double().flatten().numpy(), expected, atol=1e-7)
    assert res.source == y and res.steps == 1 and res.step_size == pytest.approx(eps)
    assert res.success == (res.pred != y)


@pytest.mark.parametrize("method", ["bim", "pgd", "targeted"])
@pytest.mark.parametrize("eps_levels", [0.5, 4, 16])
def test_iterative_attacks_stay_in_the_ball_and_in_range(method: str, eps_levels: float) -> None:
    model, x = tiny_cnn(), photo()
    eps = eps_levels / 255
    res = attack(model, x, mean=MEAN, std=STD, method=method, eps=eps, steps=7, step_size=eps / 2,
                 target=2, seed=5)
    assert res.pixels.shape == x.shape and res.clean.shape == x.shape
    assert float((res.pixels - x).abs().max()) <= eps + 1e-6
    assert float(res.pixels.min()) >= 0 and float(res.pixels.max()) <= 1
    assert float((res.pixels - x).abs().max()) >= 0.99 * eps  # the budget is actually used
    assert_clean(model)


def test_random_start_is_seeded() -> None:
    model, x = tiny_cnn(), photo()
    runs = [attack(model, x, mean=MEAN, std=STD, method="pgd", eps=8 / 255, steps=2, seed=s).pixels
            for s in (0, 0, 1)]
    assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])


def test_targeted_pgd_reaches_its_target_on_a_small_model() -> None:
    model, x = tiny_cnn(seed=2), photo(seed=4)
    source = int(Normalised(model, MEAN, STD)(x).argmax())
    target = (source + 3) % 6
    res = attack(model, x, mean=MEAN, std=STD, method="targeted", eps=64 / 255, steps=30, target=target)
    assert res.target == target and res.pred == target and res.success


def test_fgsm_matches_torchattacks_on_lite0(lite0, chelsea) -> None:
    torchattacks = pytest.importorskip("torchattacks")
    from vizcore.adversarial.export import pixels_of

    spec, x = lite0.spec, pixels_of(chelsea.image, lite0.spec)
    wrapped = Normalised(lite0.model, spec.mean, spec.std)
    label = wrapped(x).argmax(1)
    theirs = torchattacks.FGSM(wrapped, eps=2 / 255)(x, label)
    ours = attack(lite0.model, x, mean=spec.mean, std=spec.std, method="fgsm", eps=2 / 255)
    assert torch.equal(ours.pixels, theirs)
    assert_clean(lite0.model)


def test_pgd_matches_torchattacks_without_and_with_the_same_random_start() -> None:
    torchattacks = pytest.importorskip("torchattacks")
    model, x = tiny_cnn(seed=3), photo(24, seed=7)
    eps, alpha, steps = 6 / 255, 1.5 / 255, 6
    wrapped = Normalised(model, MEAN, STD)
    label = wrapped(x).argmax(1)
    # no random start: torchattacks PGD = our BIM
    theirs = torchattacks.PGD(wrapped, eps=eps, alpha=alpha, steps=steps, random_start=False)(x, label)
    ours = attack(model, x, mean=MEAN, std=STD, method="bim", eps=eps, steps=steps, step_size=alpha)
    assert torch.equal(ours.pixels, theirs)
    # the same random start, injected: torchattacks draws it from the global RNG
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(11)
        start = torch.clamp(x + torch.empty_like(x).uniform_(-eps, eps), 0, 1)
        torch.manual_seed(11)
        theirs = torchattacks.PGD(wrapped, eps=eps, alpha=alpha, steps=steps, random_start=True)(x, label)
    ours = iterate(wrapped, x, label, eps=eps, step=alpha, steps=steps, start=start)
    assert torch.equal(ours, theirs)
    assert not torch.equal(ours, attack(model, x, mean=MEAN, std=STD, method="bim", eps=eps, steps=steps,
                                        step_size=alpha).pixels)  # the start matters


class Exploding(nn.Module):
    """Wraps a model; the ``fail_at``-th forward raises (to test cleanup after a failure)."""

    def __init__(self, inner: nn.Module, fail_at: int) -> None:
        super().__init__()
        self.inner, self.calls, self.fail_at = inner, 0, fail_at

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.fail_at:
            raise RuntimeError("boom")
        return self.inner(x)


def test_state_restored_after_a_failure_midway() -> None:
    model = Exploding(tiny_cnn(), fail_at=3)
    model.train().requires_grad_(True)  # a model that is NOT frozen: flags must come back unchanged
    with pytest.raises(RuntimeError, match="boom"):
        attack(model, photo(), mean=MEAN, std=STD, method="pgd", eps=4 / 255, steps=5)
    assert model.calls == 3 and count_hooks(model) == 0
    assert all(m.training for m in model.modules())
    assert all(p.requires_grad and p.grad is None for p in model.parameters())


def test_bad_input_is_refused_and_leaves_the_model_clean(lite0) -> None:
    spec, m = lite0.spec, lite0.model
    x = torch.full((1, 3, 32, 32), 0.5)
    for kwargs, msg in [(dict(method="carlini"), "unknown attack"), (dict(eps=0.0), "eps must be"),
                        (dict(method="targeted"), "needs a target"),
                        (dict(method="targeted", target=1000), "out of range"), (dict(steps=0), "steps")]:
        with pytest.raises(ValueError, match=msg):
            attack(m, x, mean=spec.mean, std=spec.std, **kwargs)
    for bad, msg in [(x * 255, r"\[0, 1\]"), (x[0], "tensor"), (x.repeat(2, 1, 1, 1), "one image"),
                     ((x * 255).byte(), "floating")]:
        with pytest.raises(ValueError, match=msg):
            attack(m, bad, mean=spec.mean, std=spec.std)
    assert_clean(m)
