"""Distortion metrics (scikit-image as oracle), defences (scipy / hand-computed), the batched ε sweep,
the defence-aware attack and the 8-bit re-projection — on tiny models."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torch import nn

from tests.conftest import assert_clean
from tests.test_adversarial import MEAN, STD, photo, tiny_cnn
from vizcore.adversarial import Normalised, attack
from vizcore.adversarial.defences import Defence, bit_depth, gaussian_blur, median_filter, through, transform
from vizcore.adversarial.export import quantise
from vizcore.adversarial.metrics import distortion
from vizcore.adversarial.robust import adaptive_attack, defended_predict
from vizcore.adversarial.sweep import eps_sweep


def hwc(x: torch.Tensor) -> np.ndarray:
    return x[0].permute(1, 2, 0).double().numpy()


def test_distortion_matches_scikit_image_and_hand_counts() -> None:
    a = photo(40, seed=2)
    b = (a + 0.03 * torch.randn(a.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    d = distortion(a, b)
    ref = structural_similarity(hwc(a), hwc(b), gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                data_range=1.0, channel_axis=2)
    assert d.ssim == pytest.approx(ref, abs=1e-9)
    assert d.psnr == pytest.approx(peak_signal_noise_ratio(hwc(a), hwc(b), data_range=1.0), abs=1e-6)
    delta = (b - a).double()
    assert d.linf == pytest.approx(255 * float(delta.abs().max()))
    assert d.l2 == pytest.approx(255 * float(delta.pow(2).sum().sqrt()))
    same = distortion(a, a)
    assert same.linf == 0 and same.psnr == float("inf") and same.ssim == pytest.approx(1.0)


def test_defences_against_scipy_and_by_hand() -> None:
    x = photo(20, seed=5)
    np.testing.assert_allclose(median_filter(x, 3)[0].numpy(),
                               ndimage.median_filter(x[0].numpy(), size=(1, 3, 3), mode="mirror"), atol=1e-7)
    np.testing.assert_allclose(gaussian_blur(x, 1.0)[0].numpy(),
                               ndimage.gaussian_filter(x[0].double().numpy(), sigma=(0, 1, 1), mode="mirror",
                                                       truncate=3.0), atol=1e-6)
    q = bit_depth(x, 2)
    np.testing.assert_allclose(np.unique(q.numpy()), [0, 1 / 3, 2 / 3, 1], atol=1e-6)
    assert float((q - x).abs().max()) <= 1 / 6 + 1e-6
    jp = transform(Defence("jpeg", 50), x)
    buf = io.BytesIO()
    Image.fromarray((hwc(x) * 255).round().astype(np.uint8)).save(buf, format="JPEG", quality=50)
    ref = np.asarray(Image.open(buf), dtype=np.float64) / 255
    np.testing.assert_allclose(hwc(jp), ref, atol=1e-6)
    g = torch.Generator().manual_seed(0)
    rp = transform(Defence("resize_pad", 0.75, draws=4), x.expand(4, -1, -1, -1), g)
    assert rp.shape == (4, 3, 20, 20)
    assert all(int((img.sum(0) == 0).sum()) >= 20 for img in rp)  # every draw has a zero border
    for bad in [("jpeg", 100), ("bits", 2.5), ("median", 4), ("resize_pad", 1.0), ("sharpen", 1)]:
        with pytest.raises(ValueError):
            Defence(*bad)


def test_bpda_passes_the_gradient_straight_through() -> None:
    x = photo(8).requires_grad_(True)
    for d in (Defence("bits", 3), Defence("jpeg", 60)):
        y = through(d, x)
        assert torch.allclose(y, transform(d, x.detach()), atol=1e-7)
        (g,) = torch.autograd.grad(y.sum(), x)
        assert torch.equal(g, torch.ones_like(x))
    ramp = torch.arange(64.0).view(1, 1, 8, 8)
    (g,) = torch.autograd.grad((through(Defence("blur", 1.0), x) * ramp).sum(), x)
    assert not torch.equal(g, torch.ones_like(x))  # blur is differentiated for real


def test_defended_prediction_votes_over_draws() -> None:
    model, x = tiny_cnn(), photo(24)
    p = defended_predict(model, x, mean=MEAN, std=STD, defence=Defence("resize_pad", 0.6, draws=9))
    assert p.draws == 9 and sum(n for _, n in p.votes) == 9
    assert p.probs.shape == (6,) and p.probs.sum() == pytest.approx(1, abs=1e-5)
    plain = defended_predict(model, x, mean=MEAN, std=STD, defence=None)
    assert plain.pred == int(Normalised(model, MEAN, STD)(x).argmax()) and plain.votes == ((plain.pred, 1),)


class BatchSpy(nn.Module):
    """Records the batch size of every forward."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.batches = inner, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.batches.append(x.shape[0])
        return self.inner(x)


@pytest.mark.parametrize("method", ["pgd", "targeted", "bim"])
def test_sweep_is_one_shrinking_batch_and_agrees_with_single_attacks(method: str) -> None:
    sharp = tiny_cnn(seed=4)  # confident logits, so that the large budgets settle within the steps
    sharp[-1].weight.mul_(40)
    sharp[-1].bias.mul_(40)
    spy, x = BatchSpy(sharp).eval(), photo(24, seed=9)
    levels = (0.5, 1, 2, 3, 4, 6, 8, 16, 64, 128)
    sw = eps_sweep(spy, x, mean=MEAN, std=STD, method=method, levels=levels, steps=5, target=1, seed=3)
    # clean forward, then one batch per step holding only the budgets not yet settled, then one last
    # forward of the budgets that ran every step
    ran_all = sum(u == 5 for u in sw.steps_used)
    steps_batches = [sum(u >= k for u in sw.steps_used) for k in range(5)]  # settled at check k: k steps
    assert spy.batches == [1] + [b for b in steps_batches if b] + ([ran_all] if ran_all else [])
    assert steps_batches[0] == len(levels) and 0 < ran_all < len(levels), sw.steps_used  # both kinds
    assert sum(spy.batches) < 1 + 6 * len(levels)  # settled budgets cost nothing more
    goal = 1 if method == "targeted" else sw.source
    for i, lv in enumerate(levels):
        single = attack(spy, x, mean=MEAN, std=STD, method=method, eps=lv / 255, steps=5, target=1, seed=3)
        if sw.steps_used[i] == 5:  # never settled: exactly the single attack
            assert single.pred == sw.preds[i] and single.success == sw.success[i]
            assert single.probs[sw.source] == pytest.approx(sw.source_prob[i], abs=1e-4)
        else:  # settled: the outcome is decided and the single attack (all steps) agrees with it
            assert sw.success[i] and single.success, (i, sw.steps_used)
            if method == "targeted":
                assert sw.target_prob[i] > 0.99 and single.probs[goal] > 0.98
            else:
                assert sw.source_prob[i] < 0.01 and single.probs[sw.source] < 0.02
    assert (sw.target_prob is not None) == (method == "targeted")


def test_fgsm_sweep_is_one_step_for_every_budget() -> None:
    spy, x = BatchSpy(tiny_cnn(seed=4)).eval(), photo(24, seed=9)
    sw = eps_sweep(spy, x, mean=MEAN, std=STD, method="fgsm", levels=(1, 4, 16), seed=3)
    assert spy.batches == [1, 3, 3] and sw.steps_used == (1, 1, 1)
    for i, lv in enumerate((1, 4, 16)):
        single = attack(spy, x, mean=MEAN, std=STD, method="fgsm", eps=lv / 255)
        assert single.pred == sw.preds[i]
        assert single.probs[sw.source] == pytest.approx(sw.source_prob[i], abs=1e-4)


def test_adaptive_attack_goes_through_the_defence() -> None:
    model, x = tiny_cnn(seed=1), photo(24, seed=2)
    d = Defence("resize_pad", 0.8, draws=4)
    res = adaptive_attack(model, x, mean=MEAN, std=STD, defence=d, eps=32 / 255, steps=8)
    assert float((res.pixels - x).abs().max()) <= 32 / 255 + 1e-6
    judged = defended_predict(model, res.pixels, mean=MEAN, std=STD, defence=d, seed=7)
    assert res.pred == judged.pred and res.success == (judged.pred != res.source)
    assert res.success  # a weak random model under a large budget: EOT breaks it
    assert_clean(model)


def linear_two_class(margin: float) -> nn.Module:
    """logit₀ − logit₁ = margin − Σ x_i·(1/std) + Σ 0.5/std …: every pixel pushes towards class 1 by
    the same amount, so flipping needs a known number of whole levels."""
    lin = nn.Linear(3 * 4 * 4, 2)
    with torch.no_grad():
        lin.weight.zero_()
        lin.weight[1] = 1.0
        lin.bias.copy_(torch.tensor([margin, 0.0]))
    return nn.Sequential(nn.Flatten(), lin).eval().requires_grad_(False)


def test_rounding_that_undoes_the_attack_is_reprojected_in_8_bit() -> None:
    mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    clean = torch.full((1, 3, 4, 4), 100 / 255)
    # logit₁ − logit₀ = Σx − margin; Σ over 48 pixels of +1 level each = 48/255 ≈ 0.188
    model = linear_two_class(margin=float(clean.sum()) + 0.3)  # 2 whole levels needed (0.376 > 0.3)
    fn = Normalised(model, mean, std)
    res = attack(model, clean, mean=mean, std=std, method="bim", eps=3 / 255, steps=1, step_size=0.4 / 255)
    assert res.source == 0 and not res.success
    fake = type(res)(**{**res.__dict__, "pixels": clean + 0.4 / 255, "success": True})
    q, steps, radius = quantise(fake, fn, max_steps=10)
    assert radius == 3 and steps == 2
    assert torch.equal(q, torch.full_like(q, 102.0))
    q0, steps0, radius0 = quantise(type(res)(**{**fake.__dict__, "eps": 0.5 / 255}), fn, max_steps=10)
    assert radius0 == 0 and steps0 == 0 and torch.equal(q0, torch.full_like(q0, 100.0))
