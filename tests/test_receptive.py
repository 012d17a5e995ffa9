"""Receptive fields: known values, hand-computed tiny models, and a brute-force gradient check for
every registry model (all-positive weights: the nonzero input gradient of a central unit is its RF)."""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
from torch import nn

from models.registry import list_specs, load_model
from tests.conftest import assert_clean
from vizcore.core.preprocess import to_input
from vizcore.inside.receptive import RFInfo, effective_rf, receptive_field, rf_box, trace_model


@functools.cache
def _untrained(name: str) -> nn.Module:
    """One random-weight copy per architecture for the whole module (never mutated)."""
    return load_model(name, trained=False).model



def test_resnet18_layer4_known_value() -> None:
    model = load_model("resnet18", trained=False).model
    info = receptive_field(model, "layer4")
    assert (info.size, info.jump) == (435, 32)
    assert receptive_field(model, "conv1") == RFInfo(7, 2, -3)
    assert receptive_field(model, "maxpool") == RFInfo(11, 4, -5)
    assert_clean(model)


def test_classic_known_values() -> None:
    alex = load_model("alexnet", trained=False).model
    assert receptive_field(alex, "features.10").size == 163  # conv5
    vgg = load_model("vgg16", trained=False).model
    assert receptive_field(vgg, "features.28") == RFInfo(212 - 16, 16, -90)  # conv5_3: 196 px


def test_hand_computed_tiny_model() -> None:
    # conv3 s1 p1 -> maxpool2 s2 -> conv3 d2 p2 -> conv1: sizes 3, 4, 4+2*2*2=12, 12; jumps 1, 2, 2, 2
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.MaxPool2d(2), nn.Conv2d(4, 4, 3, padding=2,
                          dilation=2), nn.Conv2d(4, 2, 1)).eval().requires_grad_(False)
    assert receptive_field(model, "0", input_size=32) == RFInfo(3, 1, -1)
    assert receptive_field(model, "1", input_size=32) == RFInfo(4, 2, -1)
    assert receptive_field(model, "2", input_size=32) == RFInfo(12, 2, -5)
    assert receptive_field(model, "3", input_size=32) == RFInfo(12, 2, -5)


class _TwoBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Conv2d(3, 2, 3, padding=1)
        self.b = nn.Conv2d(3, 2, 7, padding=3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.a(x), self.b(x)], 1) + torch.relu(self.a(x)).repeat(1, 2, 1, 1)


def test_branches_take_the_union_and_joins_are_listed() -> None:
    model = _TwoBranch().eval().requires_grad_(False)
    trace = trace_model(model, input_size=16)
    kinds = [r.kind for r in trace.rows]
    assert "concat" in kinds and "residual add" in kinds
    join = next(r for r in trace.rows if r.kind == "residual add")
    assert join.rf == RFInfo(7, 1, -3)


def test_rf_box_clips_and_is_exclusive() -> None:
    info = RFInfo(435, 32, -217)
    assert rf_box(info, 3, 3, 224) == (0, 0, 224, 224)
    small = RFInfo(7, 2, -3)
    assert rf_box(small, 0, 0, 224) == (0, 0, 4, 4)
    assert rf_box(small, 10, 20, 224) == (17, 37, 24, 44)
    assert rf_box(small, 111, 111, 224) == (219, 219, 224, 224)


def test_unknown_layer_is_refused() -> None:
    model = load_model("resnet18", trained=False).model
    with pytest.raises(ValueError, match="layer4"):
        receptive_field(model, "layer44")
    assert_clean(model)


def _positive_copy(name: str) -> nn.Module:
    """The same architecture with all-positive float64 weights, max pools → average pools (the
    gradient of a max goes to one winner only), ReLU6 → ReLU (no saturation) and squeeze-excitation
    gates removed (they see the whole image by design and only rescale channels)."""
    from torchvision.ops.misc import SqueezeExcitation

    model = load_model(name, trained=False).model.double()
    gen = torch.Generator().manual_seed(0)
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.MaxPool2d):
                assert child.dilation in (1, (1, 1))
                setattr(parent, child_name, nn.AvgPool2d(child.kernel_size, child.stride, child.padding,
                                                         ceil_mode=child.ceil_mode))
            elif isinstance(child, (nn.ReLU6, nn.Hardtanh)):
                setattr(parent, child_name, nn.ReLU())
            elif isinstance(child, SqueezeExcitation):
                setattr(parent, child_name, nn.Identity())
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            fan_in = m.weight[0].numel()
            m.weight.copy_((0.5 + torch.rand(m.weight.shape, generator=gen, dtype=torch.float64)) / fan_in)
            if m.bias is not None:
                m.bias.zero_()
        elif isinstance(m, nn.BatchNorm2d):
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
    for pname, p in model.named_parameters():
        if not pname.endswith("weight") or p.dim() <= 1:
            p.fill_(0.0 if pname.endswith("bias") else 1.0)
    return model.eval()


def _check_layers(name: str) -> tuple[list[str], int]:
    """Three layers at different depths whose RF fits well inside a moderate input."""
    model = _untrained(name)
    trace = trace_model(model, input_size=224)
    adaptive = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)  # their windows change with the input
    resizing = {n for n, m in model.named_modules() if any(isinstance(c, adaptive) for c in m.modules())}
    order = [n for n in trace.layer_shape if n in trace.layer_rf and len(trace.layer_shape[n]) == 3
             and trace.layer_rf[n].size <= 140 and n not in resizing
             and trace.layer_shape[n][1] == trace.layer_shape[n][2]]  # NCHW, not ConvNeXt's NHWC
    picks = sorted({order[len(order) // 3], order[2 * len(order) // 3], order[-1]}, key=order.index)
    need = max(trace.layer_rf[n].size + 2 * trace.layer_rf[n].jump for n in picks)
    return picks, 32 * math.ceil((need + 64) / 32)


def test_lenet5_receptive_field_by_hand() -> None:
    """C1 5×5 → S2 2×2/2 → C3 5×5 → S4 2×2/2: RF 5, 6, 6 + 4·2 = 14, 14 + 1·2 = 16; jump 1, 2, 2, 4."""
    from models.lenet import LeNet5

    trace = trace_model(LeNet5(), input_size=32)
    got = [(trace.layer_rf[n].size, trace.layer_rf[n].jump) for n in
           ("features.0", "features.2", "features.3", "features.5")]
    assert got == [(5, 1), (6, 2), (14, 2), (16, 4)]


# LeNet-5's classifier needs exactly 32 px (16·5·5 inputs), so its brute force is the hand count above.
@pytest.mark.parametrize("name", [s.name for s in list_specs() if s.name != "lenet5"])
def test_brute_force_gradient_extent_matches(name: str) -> None:
    layers, size = _check_layers(name)
    original = _untrained(name)
    trace = trace_model(original, input_size=size)
    model = _positive_copy(name)
    x = 0.5 + torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(1),
                         dtype=torch.float64)
    for layer in layers:
        info = trace.layer_rf[layer]
        h = trace.layer_shape[layer][-1]
        r = h // 2
        box = rf_box(info, r, r, size)
        assert box[0] > 0 and box[2] < size, (layer, info, size)  # fully inside: nothing clipped
        erf = effective_rf(model, x, layer, row=r, col=r, info=info)  # all channels: union of branches
        assert erf.extent == box, (name, layer, info, erf.extent, box)
    assert_clean(model)


def test_effective_rf_on_real_model(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    erf = effective_rf(lite0.model, x, "_blocks.3", row=14, col=14, channel=5)
    assert erf.grad.shape == (224, 224) and math.isclose(float(erf.grad.max()), 1.0)
    top, left, bottom, right = erf.box
    assert erf.extent is not None
    et, el, eb, er = erf.extent
    assert top <= et and left <= el and eb <= bottom and er <= right  # ERF inside the theoretical RF
    assert np.all(erf.grad[:top] == 0) and np.all(erf.grad[:, right:] == 0)
    assert_clean(lite0.model)


def test_effective_rf_refuses_bad_positions_and_stays_clean(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    with pytest.raises(ValueError, match="outside"):
        effective_rf(lite0.model, x, "_blocks.3", row=99, col=0)
    assert_clean(lite0.model)
    with pytest.raises(ValueError, match="Channel"):
        effective_rf(lite0.model, x, "_blocks.3", row=1, col=1, channel=10_000)
    assert_clean(lite0.model)
    with pytest.raises(ValueError, match="shape"):
        effective_rf(lite0.model, x[0], "_blocks.3", row=1, col=1)
