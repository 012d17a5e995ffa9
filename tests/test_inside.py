"""Feature maps (one forward, values equal a truncated forward, hooks gone), filters (weights,
norms, symmetric pictures) and the mosaic figure (click mapping, PNG payload)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from app.inside import figures
from models.registry import load_model
from tests.conftest import assert_clean
from vizcore.core.hooks import capture, observe, run_until
from vizcore.core.preprocess import to_input
from vizcore.core.render import png_bytes
from vizcore.inside.features import activation_range, capture_all, feature_maps, spatial_layers, stage_layers
from vizcore.inside.filters import filter_bank, filter_order, norm_matrix, rgb_tiles, slice_tiles
from vizcore.inside.receptive import trace_model


def _truncated(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    with torch.no_grad(), capture(model, [layer], stop_after=True) as acts:
        run_until(model, x)
        return acts[layer].clone()


def _count_forwards(model: nn.Module, fn) -> int:
    calls = []
    with observe(model, [""], before=lambda _n, _i: calls.append(1)):
        fn()
    return len(calls)


def test_capture_all_one_forward_equals_truncated(lite0, chelsea) -> None:
    model = lite0.model
    x = to_input(chelsea.image, lite0.spec)
    trace = trace_model(model)
    layers = spatial_layers(trace)
    assert len(layers) > 100
    out: dict[str, torch.Tensor] = {}
    assert _count_forwards(model, lambda: out.update(capture_all(model, x, layers))) == 1
    assert set(out) == set(layers)
    for layer in (layers[0], "_blocks.3._bn1", "_blocks.7", layers[-1]):
        torch.testing.assert_close(out[layer], _truncated(model, x, layer), rtol=0, atol=0)
    assert_clean(model)


def test_inplace_relu_outputs_are_copied() -> None:
    model = load_model("resnet18", trained=False).model
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    trace = trace_model(model, input_size=64)
    assert "layer1.0.bn1" in trace.modified_later  # an in-place ReLU follows it
    for copy in (None, trace.modified_later):
        got = capture_all(model, x, ["layer1.0.bn1", "layer2.1.bn2", "layer3"], copy=copy)
        for layer, value in got.items():
            torch.testing.assert_close(value, _truncated(model, x, layer), rtol=0, atol=0)
    assert float(got["layer1.0.bn1"].min()) < 0  # the pre-ReLU values, not the rectified ones
    fm = feature_maps(model, x, "layer1.0.bn1", trace=trace)  # the page's pass copies it too
    np.testing.assert_array_equal(fm.maps, _truncated(model, x, "layer1.0.bn1")[0].numpy())
    assert fm.layer_range[0] < 0
    assert_clean(model)


def test_capture_all_cleans_up_after_failure(lite0) -> None:
    with pytest.raises(ValueError, match="_blocks"):
        capture_all(lite0.model, torch.zeros(1, 3, 224, 224), ["_blocks.99"])
    assert_clean(lite0.model)
    with pytest.raises(RuntimeError):
        capture_all(lite0.model, torch.zeros(1, 5, 224, 224), ["_blocks.1"])  # wrong channel count
    assert_clean(lite0.model)


def test_feature_maps_page_pass(lite0, chelsea) -> None:
    model = lite0.model
    x = to_input(chelsea.image, lite0.spec)
    trace = trace_model(model)
    result = []
    assert _count_forwards(model, lambda: result.append(
        feature_maps(model, x, "_blocks.5._relu0", trace=trace))) == 1
    fm = result[0]
    ref = _truncated(model, x, "_blocks.5._relu0")[0].numpy()
    np.testing.assert_array_equal(fm.maps, ref)
    assert fm.layer_range == (float(ref.min()), float(ref.max()))
    np.testing.assert_allclose(fm.channel_mean, ref.mean(axis=(1, 2)), rtol=1e-6)
    sizes = [s.shape[1] for s in fm.stages]
    assert [s.layer for s in fm.stages] == stage_layers(trace) and sizes == sorted(sizes, reverse=True)
    for s in fm.stages:
        np.testing.assert_array_equal(s.map, _truncated(model, x, s.layer)[0, s.channel].numpy())
    with pytest.raises(ValueError, match="feature map"):
        feature_maps(model, x, "_fc", trace=trace)
    assert_clean(model)


def test_activation_range_is_min_max_of_every_layer(lite0, chelsea) -> None:
    model = lite0.model
    x = to_input(chelsea.image, lite0.spec)
    layers = spatial_layers(trace_model(model))
    result = []
    assert _count_forwards(model, lambda: result.append(activation_range(model, x, layers))) == 1
    everything = capture_all(model, x, layers)
    assert result[0] == (min(float(a.min()) for a in everything.values()),
                         max(float(a.max()) for a in everything.values()))
    shallow = activation_range(model, x, layers[:3])
    assert shallow == (min(float(everything[n].min()) for n in layers[:3]),
                       max(float(everything[n].max()) for n in layers[:3]))
    with pytest.raises(ValueError, match="_blocks"):
        activation_range(model, x, ["_blocks.99"])
    assert_clean(model)


@pytest.mark.parametrize("inplace", [False, True])
def test_activation_range_with_clamps_matches_brute_force(inplace: bool) -> None:
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU6(inplace=inplace), nn.Conv2d(4, 4, 3),
        nn.Sequential(nn.BatchNorm2d(4), nn.ReLU(inplace=inplace)), nn.Hardtanh(-0.1, 0.2),
    ).eval().requires_grad_(False)
    layers = ["0", "1", "2", "3", "3.0", "3.1", "4"]
    x = torch.randn(1, 3, 12, 12) * 5
    ranges = []
    for name in layers:  # brute force: a truncated forward per layer
        t = _truncated(model, x, name)
        ranges.append((float(t.min()), float(t.max())))
    expected = (min(r[0] for r in ranges), max(r[1] for r in ranges))
    assert activation_range(model, x, layers) == expected
    assert activation_range(model, x, ["1", "4"]) == (min(ranges[1][0], ranges[6][0]),
                                                       max(ranges[1][1], ranges[6][1]))
    assert_clean(model)


def _hand_conv() -> nn.Conv2d:
    conv = nn.Conv2d(3, 3, 3, bias=True).requires_grad_(False)
    conv.weight.zero_()
    conv.weight[1] = 1.0  # filter 1: all ones (norm 3·3·3 → √27)
    conv.weight[2, 0, 1, 1] = -2.0  # filter 2: one negative red weight
    conv.bias.copy_(torch.tensor([0.0, 0.5, -0.5]))
    return conv


def test_filter_bank_and_pictures() -> None:
    model = nn.Sequential(_hand_conv(), nn.ReLU(), nn.Conv2d(3, 4, 1)).eval()
    bank = filter_bank(model, "0")
    assert bank.is_rgb and bank.count == 3
    np.testing.assert_allclose(bank.norms, [0.0, np.sqrt(27), 2.0], rtol=1e-6)
    assert list(filter_order(bank, sort="norm")) == [1, 2, 0]
    assert "3 filters of 3×3×3" in bank.stats_line() and "min -2.000" in bank.stats_line()
    tiles = rgb_tiles(bank, np.arange(3), size=3)
    assert np.all(tiles[0] == 128)  # zero weights are mid-grey
    assert np.all(tiles[2][1, 1] == [0, 128, 128])  # -max → no red, other channels zero → grey
    x = torch.randn(1, 3, 5, 5)
    w = torch.from_numpy(bank.weight)
    torch.testing.assert_close(torch.nn.functional.conv2d(x, w, torch.from_numpy(bank.bias)), model[0](x))
    deep = filter_bank(model, "2")
    assert not deep.is_rgb and slice_tiles(deep, np.arange(4), channels=2, size=4).shape == (4, 4, 8, 3)
    assert norm_matrix(deep, np.arange(4)).shape == (4, 3)
    with pytest.raises(ValueError, match="not a convolution"):
        filter_bank(model, "1")


def test_trained_first_layer_is_smoother_than_random(lite0) -> None:
    """Teaching point of the page: trained stem filters have structure, random ones do not."""
    def roughness(w: np.ndarray) -> float:  # mean |neighbour difference| / mean |w|
        return float((np.abs(np.diff(w, axis=-1)).mean() + np.abs(np.diff(w, axis=-2)).mean())
                     / np.abs(w).mean())

    trained = filter_bank(lite0.model, "_conv_stem").weight
    random = filter_bank(load_model("efficientnet_lite0", trained=False).model, "_conv_stem").weight
    assert roughness(trained) < roughness(random)


def test_mosaic_click_mapping_and_payload(lite0, chelsea) -> None:
    trace = trace_model(lite0.model)
    x = to_input(chelsea.image, lite0.spec)
    fm = feature_maps(lite0.model, x, "_blocks.1._expand_conv", trace=trace)  # 96 × 112 × 112
    scale = (-1.0, 7.0)
    pixels = {}
    for norm in figures.NORMS:
        img, grid = figures.feature_mosaic_image(fm, norm=norm, sort="mean", global_range=scale)
        assert img.mode == "P"
        assert len(png_bytes(img)) < 300_000
        pixels[norm] = np.asarray(img)
    assert not np.array_equal(pixels["per layer"], pixels["global"])  # the wider scale is used
    step = grid.tile + grid.pad
    for i in (0, 1, grid.cols, len(grid.order) - 1):
        r, c = divmod(i, grid.cols)
        assert grid.index_at(grid.pad + c * step + grid.tile / 2, grid.pad + r * step + 1) == grid.order[i]
    assert grid.index_at(0, 0) is None
    assert list(grid.order[:3]) == list(np.argsort(-fm.channel_mean)[:3])
    with pytest.raises(ValueError, match="normalisation"):
        figures.feature_mosaic_image(fm, norm="sometimes")
    with pytest.raises(ValueError, match="range"):
        figures.feature_mosaic_image(fm, norm="global")
