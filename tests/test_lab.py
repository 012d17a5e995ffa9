"""Classroom lab: kernels, the task module, the figure builders and the GIF export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from app.lab.figures import backward_figure, channel_steps, conv_backward_figure, forward_figure
from app.lab.gif import gif_bytes
from app.lab.player import player_html
from app.lab.tasks import OPS, conv_gradients, lab
from tests.conftest import assert_clean
from vizcore.core.hooks import conv_layer_names, resolve_layer
from vizcore.lab.kernels import PRESETS, first_conv_filter, preset, region_grid
from vizcore.lab.stepping import conv_steps, pool_backward, pool_steps

BASE = dict(grid=6, rgb=True, centre=(0.5, 0.5), side=64, source="preset", preset_name="Sobel x",
            custom=(), k=3, filter_index=0, fold_bn=True, stride=1, padding=1, dilation=1,
            channel=0)


def test_presets_are_classic() -> None:
    assert preset("Sobel x").tolist() == [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    assert preset("identity", 5)[2, 2] == 1 and preset("identity", 5).sum() == 1
    for name in PRESETS:
        for k in (1, 3, 5, 7):
            assert preset(name, k).shape == (k, k)
    assert preset("Gaussian", 5).sum() == pytest.approx(1)
    with pytest.raises(ValueError, match="Unknown preset"):
        preset("blurry")


def test_learned_filter_is_the_real_weight_with_folded_bn(lite0) -> None:
    model = lite0.model
    name = conv_layer_names(model)[0]
    conv = resolve_layer(model, name)
    raw = first_conv_filter(model, 5, fold_bn=False)
    assert raw.layer == name == "_conv_stem" and not raw.has_bias and raw.bias == 0.0
    np.testing.assert_allclose(raw.weight, conv.weight[5].double().numpy())
    folded = first_conv_filter(model, 5)
    assert folded.folded and "BatchNorm" in folded.note
    x = torch.randn(1, 3, 9, 9)  # folded conv == BN(conv(x)) for this filter
    ref = model._bn0(F.conv2d(x, conv.weight, None, 1, 1))[0, 5]
    got = F.conv2d(x, torch.from_numpy(folded.weight).float()[None], torch.tensor([folded.bias]),
                   1, 1)[0, 0]
    torch.testing.assert_close(got, ref, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="pick an index"):
        first_conv_filter(model, 999)
    assert_clean(model)


def test_region_grid_box_and_values() -> None:
    img = Image.new("RGB", (100, 80), (255, 0, 0))
    x, box = region_grid(img, (0.99, 0.99), 40, 8)
    assert box == (60, 40, 100, 80) and x.shape == (3, 8, 8)
    np.testing.assert_allclose(x[0], 1.0)
    np.testing.assert_allclose(x[1:], 0.0)
    g, _ = region_grid(img, (0.5, 0.5), 40, 8, rgb=False)
    assert g.shape == (1, 8, 8)


@pytest.mark.parametrize("op", list(OPS))
def test_every_operation_runs_and_matches_torch(lite0, chelsea, op) -> None:
    res = lab(lite0, chelsea, op=op, **BASE)
    assert res.whole.dtype == np.uint8 and res.whole.ndim == 3
    x = torch.from_numpy(res.grid)[None]
    if op == "conv":
        ref = F.conv2d(x, torch.from_numpy(res.kernel)[None], padding=1)[0]
    elif op == "depthwise":
        ref = F.conv2d(x, torch.from_numpy(res.kernel)[:, None], padding=1, groups=3)[0]
    elif op == "transposed":
        ref = F.conv_transpose2d(x, torch.from_numpy(res.kernel)[:, None], padding=1)[0]
    elif op == "gap":
        ref = x.mean(dim=(2, 3), keepdim=True)[0]
    else:
        ref = (F.max_pool2d if op == "max" else F.avg_pool2d)(x, 3, 1, padding=1)[0]  # BASE padding
    np.testing.assert_allclose(res.plan.output, ref.numpy(), atol=1e-9)
    assert (res.routing is not None) == (op in ("max", "avg", "gap"))
    assert (res.grads is not None) == (op in ("conv", "depthwise"))
    assert_clean(lite0.model)


def test_learned_source_uses_normalised_rgb(lite0, chelsea) -> None:
    res = lab(lite0, chelsea, op="conv", **{**BASE, "source": "learned", "rgb": False})
    assert res.grid.shape[0] == 3 and res.learned is not None  # the real filter needs RGB
    assert res.grid.min() < 0  # ImageNet-normalised
    np.testing.assert_allclose(res.kernel, res.learned.weight)
    assert res.bias == res.learned.bias


@pytest.mark.parametrize(("change", "message"), [
    (dict(k=7, dilation=3, padding=0), "larger than the padded input"),
    (dict(stride=2, padding="same"), "only exists for stride 1"),
    (dict(source="custom", custom=((1.0, float("nan")), (0.0, 1.0))), "square grid of numbers"),
    (dict(grid=16, op="transposed", stride=4), "too many"),
    (dict(op="max", k=2, stride=2, padding=2), "half the window"),
    (dict(op="avg", padding="same"), "no 'same' padding"),
    (dict(op="transposed", stride=1, dilation=1, output_padding=1), "smaller than the stride"),
])
def test_impossible_settings_are_explained(lite0, chelsea, change, message) -> None:
    params = {**BASE, "op": "conv", **change}
    with pytest.raises(ValueError, match=message):
        lab(lite0, chelsea, **params)


def test_forward_figure_frames_update_only_changing_traces() -> None:
    x = np.random.default_rng(0).random((3, 5, 5))
    plan = conv_steps(x, np.ones((1, 3, 3, 3)), np.array([0.5]), padding=1)
    spec = forward_figure(plan, ("R", "G", "B"), relu=True)
    assert len(spec["frames"]) == 25 == len(spec["layout"]["sliders"][0]["steps"])
    assert [b["label"] for b in spec["layout"]["updatemenus"][0]["buttons"]] == ["▶", "⏸"]
    n_traces = len(spec["data"])
    frame = spec["frames"][7]
    assert len(frame["traces"]) == len(frame["data"]) < n_traces / 2
    s = plan.steps[7]
    assert f"{s.value:.2f}" in frame["layout"]["title"]["text"] and "ReLU" in frame["layout"]["title"]["text"]
    products = [d for d in frame["data"] if d["type"] == "heatmap" and "z" in d]
    np.testing.assert_allclose(np.array(products[0]["z"]), s.products[0].round(3))
    json.dumps(spec)  # plain JSON


def test_pool_figures_and_routing() -> None:
    x = np.random.default_rng(1).random((1, 4, 4))
    plan = pool_steps(x, 2, mode="max")
    fwd = forward_figure(plan, ("gray",))
    assert "winner" in fwd["frames"][0]["layout"]["title"]["text"]
    routing = pool_backward(plan, np.arange(1.0, 5.0).reshape(1, 2, 2))
    back = backward_figure(plan, routing)
    last = np.array(back["frames"][-1]["data"][0]["z"])
    np.testing.assert_allclose(last, routing.grad_in[0], atol=1e-4)
    assert last.sum() == pytest.approx(10.0)
    with pytest.raises(ValueError, match="does not exist"):
        channel_steps(plan, 3)


def test_conv_backward_figure_marks_padding_and_the_window() -> None:
    x = np.arange(16.0).reshape(1, 4, 4)
    plan = conv_steps(x, np.arange(9.0).reshape(1, 1, 3, 3), padding=1)
    spec = conv_backward_figure(plan, conv_gradients(plan), ("gray",))
    pad_trace, dx = (d for d in spec["data"] if "∂L/∂x" in d.get("hovertemplate", "")
                     or "dropped" in d.get("hovertemplate", ""))
    # padding (0, 1) is reached by tap (0, 1) of window (0, 0) and tap (0, 0) of window (0, 1): 1 + 0
    assert pad_trace["text"][0][1] == "1" and pad_trace["text"][1][1] == ""  # real cells: no text
    assert dx["z"][0][0] is None and dx["customdata"][1][1] == 4  # a corner input cell: 4 windows
    assert not [d for d in spec["data"] if d["type"] == "scatter"]  # no window outline for g = all ones
    spec = conv_backward_figure(plan, conv_gradients(plan, (0, 0, 3)), ("gray",), cell=(0, 0, 3), big=True)
    outlines = [d for d in spec["data"] if d["type"] == "scatter"]
    assert len(outlines) == 2 and len(outlines[1]["x"]) == 9 * 6  # the output cell + its 3×3 window
    assert spec["layout"]["font"]["size"] == 18
    json.dumps(spec)


def test_gif_and_player() -> None:
    plan = conv_steps(np.random.default_rng(2).random((1, 6, 6)), np.ones((1, 1, 3, 3)))
    data = gif_bytes(plan)
    img = Image.open(__import__("io").BytesIO(data))
    assert img.format == "GIF" and img.n_frames == 16
    html = player_html(forward_figure(plan, ("gray",)), big=True)
    assert "Plotly.newPlot" in html and "ArrowRight" in html and len(html) > 1_000_000


def test_input_title_names_the_reason_for_uneven_padding() -> None:
    from app.lab import figures as lab_fig
    from vizcore.lab.stepping import conv_steps, conv_transpose_steps

    x, w = np.ones((1, 5, 5)), np.ones((1, 1, 2, 2))
    assert lab_fig._input_title(conv_steps(x, w, padding="same")).endswith("'same' with an even kernel)")
    up = conv_transpose_steps(x, np.ones((1, 1, 3, 3)), stride=2, padding=1, output_padding=1)
    assert lab_fig._input_title(up).endswith("output padding)")
    assert lab_fig._input_title(conv_steps(x, w, padding=1)) == "input (padded)"
