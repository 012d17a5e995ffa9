"""Plain layer labels (vizcore.core.labels): hand-built modules and the real EfficientNet-Lite0,
with torch forward shapes as the oracle for the shape part."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vizcore.core.labels import describe_module, describe_where, format_shape, layer_labels


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self._expand_conv = nn.Conv2d(4, 8, 1)
        self._depthwise_conv = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self._bn1 = nn.BatchNorm2d(8)


class _Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self._conv_stem = nn.Conv2d(3, 4, 3, padding=1)
        self._blocks = nn.Sequential(_Block(), _Block())
        self.pool = nn.MaxPool2d(2)
        self.gap = nn.AdaptiveAvgPool2d(1)


def test_describe_module_reads_kernel_stride_and_groups() -> None:
    assert describe_module(nn.Conv2d(8, 8, 3, groups=8)) == "depthwise 3×3 conv"
    assert describe_module(nn.Conv2d(8, 16, 3, groups=2)) == "grouped 3×3 conv"
    assert describe_module(nn.Conv2d(3, 64, 7, stride=2)) == "7×7 conv, stride 2"
    assert describe_module(nn.Conv2d(64, 64, 3, dilation=2)) == "3×3 conv, dilation 2"
    assert describe_module(nn.Conv2d(64, 32, 1)) == "1×1 conv"
    assert describe_module(nn.MaxPool2d(2)) == "2×2 max pool"
    assert describe_module(nn.MaxPool2d(3, stride=2)) == "3×3 max pool, stride 2"
    assert describe_module(nn.AdaptiveAvgPool2d(1)) == "global average pool"
    assert describe_module(nn.BatchNorm2d(3)) == "batch norm"
    assert describe_module(nn.Sequential(nn.Conv2d(3, 3, 5), nn.BatchNorm2d(3), nn.ReLU())) \
        == "5×5 conv + norm + activation"


def test_describe_where_from_module_paths() -> None:
    assert describe_where("_blocks.14._depthwise_conv") == "block 14"
    assert describe_where("layer3.1.conv2") == "layer 3 · block 1"
    assert describe_where("features.5") == "layer 5"
    assert describe_where("layer3.1", container=True) == "layer 3 · block 1"
    assert describe_where("features.denseblock2.denselayer3.conv1") == "dense block 2 · dense layer 3"
    assert describe_where("_conv_stem") == ""


def test_format_shape_is_height_width_channels() -> None:
    assert format_shape((672, 14, 7)) == "14×7×672"
    assert format_shape((1000,)) == "1000"
    assert format_shape(None) == "" and format_shape(()) == ""


def _forward_shapes(model: nn.Module, x: torch.Tensor, names: list[str]) -> dict[str, tuple[int, ...]]:
    """Output shapes (no batch axis) of ``names`` from one real forward pass (the oracle)."""
    shapes: dict[str, tuple[int, ...]] = {}
    modules = dict(model.named_modules())
    handles = [modules[n].register_forward_hook(
        lambda _m, _i, out, n=n: shapes.__setitem__(n, tuple(out.shape[1:]))) for n in names]
    try:
        with torch.no_grad():
            model(x) if not isinstance(model, _Tiny) else _tiny_forward(model, x)
    finally:
        for h in handles:
            h.remove()
    return shapes


def _tiny_forward(m: _Tiny, x: torch.Tensor) -> torch.Tensor:
    x = m._conv_stem(x)
    for b in m._blocks:
        x = b._bn1(b._depthwise_conv(b._expand_conv(x)))[:, :4]
    return m.gap(m.pool(x))


def test_labels_of_a_hand_built_model_match_its_forward_shapes() -> None:
    model = _Tiny().eval()
    names = ["_conv_stem", "_blocks.1._depthwise_conv", "_blocks.0._expand_conv", "pool"]
    shapes = _forward_shapes(model, torch.zeros(1, 3, 16, 16), names)
    labels = layer_labels(model, shapes, names)
    assert labels["_blocks.1._depthwise_conv"].text == "block 1 · depthwise 3×3 conv, stride 2 · 4×4×8"
    assert labels["_blocks.0._expand_conv"].text == "block 0 · 1×1 conv · 16×16×8"
    assert labels["_conv_stem"].text == "3×3 conv · 16×16×4"
    assert labels["pool"].text == "2×2 max pool · 2×2×4"
    assert labels["pool"].path == "pool"
    with pytest.raises(ValueError, match="not a module"):
        layer_labels(model, shapes, ["_blocks.7"])


def test_lite0_labels_use_the_traced_shapes(lite0) -> None:
    from tests.conftest import assert_clean
    from vizcore.inside.receptive import trace_model

    trace = trace_model(lite0.model, input_size=224)
    name = "_blocks.9._depthwise_conv"
    labels = layer_labels(lite0.model, trace.layer_shape, [name, "_blocks.5._project_conv"])
    oracle = _forward_shapes(lite0.model, torch.zeros(1, 3, 224, 224), [name])[name]
    c, h, w = oracle
    assert labels[name].text == f"block 9 · depthwise 5×5 conv · {h}×{w}×{c}"
    assert labels["_blocks.5._project_conv"].what == "1×1 conv"
    assert_clean(lite0.model)
