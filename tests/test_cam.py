"""CAM methods: captum as oracle for Grad-CAM, hand-computed values on a tiny model for the variants,
top-k from one forward, state restored after success and failure, edge cases give messages."""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
import pytest
import torch
from captum.attr import LayerAttribution, LayerGradCam
from torch import nn

from models.registry import list_specs, load_model
from tests.conftest import assert_clean
from vizcore.core.hooks import observe, resolve_layer
from vizcore.core.preprocess import to_input
from vizcore.explain.cam import default_cam_layer, grad_cam, gradient_cam, score_cam, top_k_cams

# A = x (1×1 identity conv); logit_c = ½ Σ V_c ⊙ A²  ⇒  dlogit_c/dA = V_c ⊙ A (hand-checkable).
A0 = [[1.0, 2.0], [0.0, 3.0]]
A1 = [[2.0, 0.0], [1.0, 1.0]]
V0 = [[[1.0, 0.0], [1.0, 1.0]], [[0.0, 2.0], [1.0, -1.0]]]  # ⇒ G0 = [[1,0],[0,3]], G1 = [[0,0],[1,-1]]


class SquareHead(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("v", torch.tensor([V0, np.zeros((2, 2, 2)).tolist()]))

    def forward(self, a: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.v[None] * a[:, None] ** 2).sum(dim=(2, 3, 4))


def tiny() -> tuple[nn.Module, torch.Tensor]:
    feat = nn.Conv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        feat.weight.copy_(torch.eye(2).view(2, 2, 1, 1))
    model = nn.Sequential(OrderedDict(feat=feat, head=SquareHead())).eval().requires_grad_(False)
    return model, torch.tensor([[A0, A1]])


@pytest.mark.parametrize(("method", "expected"), [
    ("gradcam", [[1, 2], [0, 3]]),  # w = (mean G0, mean G1) = (1, 0)
    ("xgradcam", [[5 / 3, 10 / 3], [0, 5]]),  # w0 = Σ A0 G0 / Σ A0 = 10/6, w1 = 0/4
    ("layercam", [[1, 0], [1, 9]]),  # ReLU(G0) A0 + ReLU(G1) A1
    # α = g²/(2g² + ΣA·g³): w0 = 1·1/8 + 3·1/20 = 0.275, w1 = 1·1/6 (the g = −1 pixel has ReLU(g) = 0)
    ("gradcam++", [[0.275 + 2 / 6, 0.55], [1 / 6, 0.825 + 1 / 6]]),
])
def test_variants_match_hand_computed_values(method: str, expected: list) -> None:
    model, x = tiny()
    res = gradient_cam(model, x, method=method, layer="feat", target=0)
    np.testing.assert_allclose(res.raw, np.array(expected), rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(res.heatmap, np.array(expected) / np.max(expected), rtol=1e-6, atol=1e-6)
    assert_clean(model)


def test_score_cam_matches_hand_computed_value() -> None:
    model, x = tiny()
    # masks: A0 min-max → [[1/3,2/3],[0,1]], A1 → [[1,0],[.5,.5]]; class 1 logit is 0, so
    # weight = sigmoid(logit 0 of the masked input) = sigmoid(73/18) and sigmoid(13/8)
    sig = lambda v: 1 / (1 + math.exp(-v))  # noqa: E731
    w0, w1 = sig(73 / 18), sig(13 / 8)
    expected = np.maximum(w0 * np.array(A0) + w1 * np.array(A1), 0)
    seen: list[float] = []
    res = score_cam(model, x, layer="feat", target=0, batch_size=1, progress=seen.append)
    np.testing.assert_allclose(res.raw, expected, rtol=1e-5)
    assert seen == [0.5, 1.0]
    assert_clean(model)


def _captum_gradcam(model: nn.Module, x: torch.Tensor, layer: str,
                    target: int) -> tuple[np.ndarray, np.ndarray]:
    attr = LayerGradCam(model, resolve_layer(model, layer)).attribute(
        x, target=target, relu_attributions=True)
    up = LayerAttribution.interpolate(attr, tuple(x.shape[-2:]), "bilinear")[0, 0]
    attr, up = attr.detach(), up.detach()
    return attr[0, 0].numpy(), (up / up.max()).numpy()


def test_grad_cam_equals_captum_on_lite0(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    for target in (281, 1):
        res = grad_cam(lite0.model, x, layer=lite0.spec.default_layer, target=target)
        raw, up = _captum_gradcam(lite0.model, x, lite0.spec.default_layer, target)
        np.testing.assert_allclose(res.raw, raw, atol=1e-5 * max(1.0, raw.max()))
        np.testing.assert_allclose(res.heatmap, up, atol=1e-5)
        assert res.heatmap.shape == (224, 224) and res.heatmap.max() == pytest.approx(1.0)
    assert_clean(lite0.model)


def test_grad_cam_equals_captum_on_inplace_relu_model() -> None:
    loaded = load_model("resnet18", trained=False)
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    for layer in ("layer4", "layer3.1.conv2"):  # conv2 is followed by BN + in-place ReLU
        res = grad_cam(loaded.model, x, layer=layer, target=7)
        raw, up = _captum_gradcam(loaded.model, x, layer, 7)
        np.testing.assert_allclose(res.raw, raw, atol=1e-5 * max(1.0, raw.max()))
        np.testing.assert_allclose(res.heatmap, up, atol=1e-5)
    assert_clean(loaded.model)


def test_defaults_are_last_conv_and_top_class(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    res = grad_cam(lite0.model, x)
    assert res.layer == default_cam_layer(lite0.model) == "_conv_head"
    with torch.inference_mode():
        assert res.target == int(lite0.model(x).argmax()) == 281  # tabby


def test_top_k_is_one_forward_and_equals_single_class_cams(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    calls: list[int] = []
    with observe(lite0.model, [""], before=lambda _n, _i: calls.append(1)):
        cams = top_k_cams(lite0.model, x, layer="_relu1", k=5)
    assert len(calls) == 1
    with torch.inference_mode():
        top5 = lite0.model(x)[0].topk(5).indices.tolist()
    assert [c.target for c in cams] == top5
    for c in cams:
        np.testing.assert_allclose(c.raw, grad_cam(lite0.model, x, "_relu1", c.target).raw, atol=1e-6)
    assert_clean(lite0.model)


@pytest.mark.parametrize("spec", list_specs(), ids=lambda s: s.name)
def test_every_registry_model_default_layer(spec) -> None:
    loaded = load_model(spec.name, trained=False)
    size = 64 if spec.input_size >= 64 else spec.input_size  # LeNet-5 takes 32 px digits
    x = torch.randn(1, spec.channels, size, size, generator=torch.Generator().manual_seed(1))
    res = grad_cam(loaded.model, x, layer=spec.default_layer, target=3)
    assert res.heatmap.shape == (size, size)
    assert np.isfinite(res.heatmap).all() and res.heatmap.min() >= 0 and res.heatmap.max() <= 1
    assert_clean(loaded.model)


def test_bad_layer_and_bad_class_are_refused_and_state_restored(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    with pytest.raises(ValueError, match="Did you mean"):
        grad_cam(lite0.model, x, layer="_relu")
    assert_clean(lite0.model)
    for bad in (1000, -1):
        with pytest.raises(ValueError, match="out of range"):
            grad_cam(lite0.model, x, layer="_relu1", target=bad)
        assert_clean(lite0.model)
    with pytest.raises(ValueError, match="no spatial extent"):
        grad_cam(lite0.model, x, layer="_fc")
    assert_clean(lite0.model)
    with pytest.raises(ValueError, match=r"\(1, C, H, W\)"):
        grad_cam(lite0.model, x[0])


class Boom(nn.Module):
    def forward(self, a: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("boom mid-forward")


def test_exception_mid_forward_restores_state() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), Boom())
    model.train()  # frozen() switches to eval and must switch back
    model[0].weight.requires_grad_(True)
    with pytest.raises(RuntimeError, match="boom"):
        grad_cam(model, torch.randn(1, 3, 8, 8), layer="0", target=0)
    assert model.training and all(m.training for m in model.modules())
    assert model[0].weight.requires_grad and model[0].weight.grad is None
    assert sum(len(m._forward_hooks) for m in model.modules()) == 0


def test_constant_and_all_zero_maps_give_messages_not_nans(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    res = grad_cam(lite0.model, x, layer="_avg_pooling", target=281)  # (1, 1280, 1, 1) output
    assert res.message and "constant" in res.message
    assert np.isfinite(res.heatmap).all()
    model, xt = tiny()
    neg = nn.Sequential(OrderedDict(feat=model.feat, head=model.head, flip=_Neg()))
    res = grad_cam(neg, xt, layer="feat", target=0)  # every weight is ≤ 0 → ReLU leaves nothing
    assert res.message and "all zero" in res.message
    assert (res.heatmap == 0).all() and np.isfinite(res.heatmap).all()


class _Neg(nn.Module):
    def forward(self, v: torch.Tensor) -> torch.Tensor:
        return -v


def test_tapped_activation_survives_later_inplace_ops() -> None:
    """resnet18's bn2 output is hit by ``+= identity`` and ``ReLU(inplace=True)``: the map must use the
    BN output itself (it has negative values), and autograd must not fail on the in-place ops."""
    from vizcore.explain.cam import activation_and_logits

    loaded = load_model("resnet18", trained=False)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    act, logits = activation_and_logits(loaded.model, x, "layer3.1.bn2")
    assert float(act.min()) < 0
    (g,) = torch.autograd.grad(logits[0, 0], act)
    assert g.shape == act.shape
    assert_clean(loaded.model)
    assert np.isfinite(grad_cam(loaded.model, x, "layer3.1.bn2", 0).heatmap).all()
