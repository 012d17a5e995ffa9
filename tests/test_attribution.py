"""Pixel attributions and the generic entry point: guided backprop really guided on ReLU6 and in-place
ReLU, captum methods against hand-computed / autograd oracles, progress, state restored."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from captum.attr import GuidedBackprop
from torch import nn

from models.registry import load_model
from tests.conftest import assert_clean
from vizcore.core.hooks import tap
from vizcore.core.preprocess import to_input
from vizcore.explain.guided import GuidedRectifier, guided_relus, input_gradient
from vizcore.explain.methods import (
    METHODS,
    IGOptions,
    OcclusionOptions,
    ScoreCamOptions,
    SmoothGradOptions,
    explain,
)


class Scale(nn.Module):
    def __init__(self, w: list[float]) -> None:
        super().__init__()
        self.register_buffer("w", torch.tensor(w))

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return (v.flatten(1) * self.w).sum(1, keepdim=True).repeat(1, 2) * torch.tensor([1.0, 0.0])


def test_guided_relu6_by_hand() -> None:
    # y = ReLU6(x); logit0 = y·(1, −1, 1). Plain gradient: (1, −1, 0) (third unit saturated at 6);
    # guided: only positive gradients through active units → (1, 0, 0).
    model = nn.Sequential(nn.ReLU6(), Scale([1.0, -1.0, 1.0])).eval()
    x = torch.tensor([2.0, 3.0, 7.0]).view(1, 3, 1, 1)
    plain, _, _ = input_gradient(model, x, 0)
    guided, _, n = input_gradient(model, x, 0, guided=True)
    assert n == 1
    np.testing.assert_array_equal(plain.flatten().numpy(), [1.0, -1.0, 0.0])
    np.testing.assert_array_equal(guided.flatten().numpy(), [1.0, 0.0, 0.0])
    assert isinstance(model[0], nn.ReLU6)  # restored


def test_guided_on_lite0_differs_from_plain_and_has_no_negative_gradients(lite0, chelsea) -> None:
    model = lite0.model
    x = to_input(chelsea.image, lite0.spec)
    plain, _, _ = input_gradient(model, x, 281)
    guided, _, n = input_gradient(model, x, 281, guided=True)
    assert n == 33  # every ReLU6 module of Lite0 swapped
    corr = np.corrcoef(plain.flatten().numpy(), guided.flatten().numpy())[0, 1]
    assert corr < 0.9, corr
    # captum's GuidedBackprop overrides only nn.ReLU: on ReLU6 it IS the plain gradient (the bug we fix)
    captum = GuidedBackprop(model).attribute(x.clone(), target=281).detach()
    assert np.corrcoef(plain.flatten().numpy(), captum.flatten().numpy())[0, 1] > 0.999
    # the gradient arriving at the input of the last rectifier is never negative under guidance
    with guided_relus(model), tap(model, ["_bn1"]) as store, torch.enable_grad():
        logits = model(x)
        (g,) = torch.autograd.grad(logits[0, 281], store["_bn1"])
    assert float(g.min()) >= 0 and float(g.max()) > 0
    with tap(model, ["_bn1"]) as store, torch.enable_grad():
        (g,) = torch.autograd.grad(model(x)[0, 281], store["_bn1"])
    assert float(g.min()) < 0  # without guidance negative gradients do flow
    assert not any(isinstance(m, GuidedRectifier) for m in model.modules())
    assert_clean(model)


def test_guided_on_inplace_relu_model() -> None:
    loaded = load_model("resnet18", trained=False)
    model = loaded.model
    relus = [m for m in model.modules() if isinstance(m, nn.ReLU)]
    assert relus and all(m.inplace for m in relus)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    plain, _, _ = input_gradient(model, x, 5)
    guided, _, n = input_gradient(model, x, 5, guided=True)
    assert n == len(relus)
    assert not torch.allclose(plain, guided)
    assert [m for m in model.modules() if isinstance(m, nn.ReLU)] == relus  # the same objects back
    assert_clean(model)


def test_guided_restores_modules_after_failure() -> None:
    model = nn.Sequential(nn.ReLU6(), Scale([1.0, 1.0, 1.0])).eval()
    with pytest.raises(ValueError, match="out of range"):
        input_gradient(model, torch.ones(1, 3, 1, 1), 9, guided=True)
    assert isinstance(model[0], nn.ReLU6)


def test_saliency_equals_autograd_gradient(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    res = explain(lite0.model, x, "saliency", target=281)
    grad, _, _ = input_gradient(lite0.model, x, 281)
    np.testing.assert_allclose(res.raw, grad[0].abs().amax(0).numpy(), rtol=1e-5, atol=1e-7)
    assert_clean(lite0.model)


def test_occlusion_by_hand_with_progress() -> None:
    # logit0 = Σ w·x over a 1-channel 4×4 image; occluding a 2×2 patch (baseline 0) drops the logit by
    # the patch sum; with stride 2 the patches do not overlap, so each pixel gets its patch's drop.
    w = torch.arange(16, dtype=torch.float32)
    model = nn.Sequential(Scale(w.tolist())).eval()
    x = torch.ones(1, 1, 4, 4)
    seen: list[float] = []
    res = explain(model, x, "occlusion", target=0, options=OcclusionOptions(window=2, stride=2, batch_size=2),
                  progress=seen.append)
    wi = w.view(4, 4)
    patch = np.array([[float(wi[r:r + 2, c:c + 2].sum()) for c in (0, 2)] for r in (0, 2)])
    np.testing.assert_allclose(res.raw, np.kron(patch, np.ones((2, 2))), rtol=1e-6)
    assert seen[-1] == 1.0 and seen == sorted(seen)


def test_integrated_gradients_completeness() -> None:
    # for a linear model IG = (x − 0) · w exactly; the map is |Σ_c IG_c|
    w = [1.0, -2.0, 3.0]
    model = nn.Sequential(Scale(w)).eval()
    x = torch.tensor([1.0, 1.0, 2.0]).view(1, 3, 1, 1)
    res = explain(model, x, "ig", target=0, options=IGOptions(steps=8))
    assert res.raw.item() == pytest.approx(abs(1 - 2 + 6), rel=1e-5)


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_on_lite0(method: str, lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    seen: list[float] = []
    options = {"scorecam": ScoreCamOptions(max_channels=16), "occlusion": OcclusionOptions(56, 56),
               "smoothgrad": SmoothGradOptions(samples=4), "ig": IGOptions(steps=4)}.get(method)
    res = explain(lite0.model, x, method, layer="_relu1", target=281, progress=seen.append, options=options)
    assert res.heatmap.shape == (224, 224) and res.heatmap.dtype == np.float32
    assert np.isfinite(res.heatmap).all() and res.heatmap.min() >= 0 and res.heatmap.max() == 1
    assert res.target == 281 and res.method == method and res.seconds > 0
    if METHODS[method].slow:
        assert seen and seen[-1] == 1.0
    assert_clean(lite0.model)


@pytest.mark.parametrize("method", ["guided_gradcam", "smoothgrad", "ig"])
def test_methods_on_inplace_relu_model(method: str) -> None:
    loaded = load_model("resnet18", trained=False)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    options = {"smoothgrad": SmoothGradOptions(samples=2), "ig": IGOptions(steps=2)}.get(method)
    res = explain(loaded.model, x, method, layer="layer4", target=1, options=options)
    assert np.isfinite(res.heatmap).all()
    assert_clean(loaded.model)


def test_bad_method_and_class_refused(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    with pytest.raises(ValueError, match="unknown method"):
        explain(lite0.model, x, "lime")
    for method in ("saliency", "guided", "scorecam"):
        with pytest.raises(ValueError, match="out of range"):
            explain(lite0.model, x, method, layer="_relu1", target=1000)
        assert_clean(lite0.model)


def test_smoothgrad_is_deterministic_and_keeps_global_rng(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    state = torch.random.get_rng_state()
    a = explain(lite0.model, x, "smoothgrad", target=281, options=SmoothGradOptions(samples=3))
    b = explain(lite0.model, x, "smoothgrad", target=281, options=SmoothGradOptions(samples=3))
    np.testing.assert_array_equal(a.heatmap, b.heatmap)
    assert torch.equal(state, torch.random.get_rng_state())
