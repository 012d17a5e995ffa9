"""Classroom lab: kernels, the task module, the figure builders and the GIF export."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from app.lab.anim import sizes, text_em
from app.lab.figures import backward_figure, channel_steps, conv_backward_figure, forward_figure
from app.lab.gif import gif_bytes
from app.lab.player import player_html
from tests.conftest import assert_clean
from vizcore.core.hooks import conv_layer_names, resolve_layer
from vizcore.lab.backward import pool_backward
from vizcore.lab.kernels import PRESETS, first_conv_filter, preset, region_grid
from vizcore.lab.lesson import conv_gradients, lesson
from vizcore.lab.settings import LabSettings, Op
from vizcore.lab.stepping import conv_steps, pool_steps

BASE = dict(grid=6, rgb=True, centre=(0.5, 0.5), side=64, source="preset", preset_name="Sobel x",
            custom=(), k=3, filter_index=0, fold_bn=True, stride=1, padding=1, dilation=1,
            channel=0)
OPS = [op.value for op in Op]


def lab(loaded, image, **params):
    """The lab's lesson for the settings ``params`` (as the app's cached task computes it)."""
    return lesson(loaded.model, image.image, LabSettings(**params),
                  stats=(loaded.spec.mean, loaded.spec.std))


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


@pytest.mark.parametrize("op", OPS)
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
    assert dx["text"][1][1] == "row 1, col 1" and "%{text}" in dx["hovertemplate"]  # counted from 1
    assert not [d for d in spec["data"] if d["type"] == "scatter"]  # no window outline for g = all ones
    spec = conv_backward_figure(plan, conv_gradients(plan, (0, 0, 3)), ("gray",), cell=(0, 0, 3), big=True)
    outlines = [d for d in spec["data"] if d["type"] == "scatter"]
    assert len(outlines) == 2 and len(outlines[1]["x"]) == 9 * 6  # the output cell + its 3×3 window
    assert spec["layout"]["font"]["size"] == sizes(True)[0] >= 18  # large numbers for the projector
    json.dumps(spec)


def test_gif_and_player() -> None:
    plan = conv_steps(np.random.default_rng(2).random((1, 6, 6)), np.ones((1, 1, 3, 3)))
    data = gif_bytes(plan)
    img = Image.open(__import__("io").BytesIO(data))
    assert img.format == "GIF" and img.n_frames == 16
    html = player_html(json.dumps(forward_figure(plan, ("gray",))), big=True)
    assert "Plotly.newPlot" in html and "ArrowRight" in html and len(html) > 1_000_000


def test_input_title_names_the_reason_for_uneven_padding() -> None:
    from app.lab import figures as lab_fig
    from vizcore.lab.stepping import conv_steps, conv_transpose_steps

    x, w = np.ones((1, 5, 5)), np.ones((1, 1, 2, 2))
    assert lab_fig._input_title(conv_steps(x, w, padding="same")).endswith("'same' with an even kernel)")
    up = conv_transpose_steps(x, np.ones((1, 1, 3, 3)), stride=2, padding=1, output_padding=1)
    assert lab_fig._input_title(up).endswith("output padding)")
    assert lab_fig._input_title(conv_steps(x, w, padding=1)) == "input (padded)"


def test_settings_are_typed_and_canonical() -> None:
    s = LabSettings(op="max", padding="1", centre=[0.2, 0.4], custom=[[1, 2], [3, 4]])
    assert s.op is Op.MAX and s.padding == 1 and s.centre == (0.2, 0.4) and hash(s)
    assert LabSettings() == LabSettings(op=Op.CONV, rgb=False, source="preset", preset_name="Sobel x",
                                        stride=1, padding=0)  # a simple start: grey, Sobel
    # settings that do not change the lesson share one cache key …
    a = LabSettings(op="max", preset_name="Laplacian", output_padding=1, dilation=2).canonical()
    assert a == LabSettings(op="max").canonical()
    assert LabSettings(source="learned", rgb=False).canonical().rgb  # a real filter needs RGB
    # … settings that do, don't
    assert LabSettings(op="avg").canonical() != LabSettings(op="max").canonical()
    assert LabSettings(op="conv", rgb=True, channel=2).canonical().channel == 0  # one output map
    assert LabSettings(op="depthwise", rgb=True, channel=2).canonical().channel == 2
    assert {o.is_pool for o in Op} == {True, False} and Op.GAP.is_pool and Op.DEPTHWISE.has_gradients
    with pytest.raises(ValueError):
        LabSettings(op="maximum")


def test_plans_carry_the_operation_enum() -> None:
    x = np.ones((2, 4, 4))
    assert conv_steps(x, np.ones((1, 2, 3, 3))).op is Op.CONV
    assert conv_steps(x, np.ones((2, 1, 3, 3)), groups=2).op is Op.DEPTHWISE
    assert pool_steps(x, 2, mode="max").op is Op.MAX and pool_steps(x, 2, mode="avg").op is Op.AVG


def test_every_cell_number_is_fitted_and_the_window_has_a_double_outline() -> None:
    x = np.random.default_rng(3).standard_normal((1, 6, 6))
    plan = conv_steps(x, np.ones((1, 1, 3, 3)), padding=1)
    spec = forward_figure(plan, ("gray",))
    texts = [d for d in spec["data"] if d.get("texttemplate")]
    assert texts and all(d["meta"]["fit"] > 0.5 and d["meta"]["max"] >= 12 for d in texts)
    widest = max((f"{v:.2f}" for v in (plan.output.min(), plan.output.max())), key=text_em)
    out = texts[-1]  # the output grid
    assert out["meta"]["fit"] == pytest.approx(text_em(widest)) and out["texttemplate"] == "%{z:.2f}"
    # the same decimals as the screen in the step line; rows and columns counted from 1
    s = plan.steps[7]
    title = spec["frames"][7]["layout"]["title"]["text"]
    assert title.startswith("step 8/36 · output row 2, col 2: ") and f"<b>{s.value:.2f}</b>" in title
    shapes = spec["frames"][7]["layout"]["shapes"]  # window (row 2, col 2 of the padded grid) + output
    assert [sh["path"] for sh in shapes] == ["M0.5,0.5H3.5V3.5H0.5Z", "M0.5,0.5H1.5V1.5H0.5Z"]
    dark = [d for d in spec["data"] if d["type"] == "scatter"]
    light = spec["layout"]["template"]["layout"]["shapedefaults"]["line"]
    assert {d["line"]["color"] for d in dark} == {"#111111"} and light["color"] == "#ff8c42"
    dilated = forward_figure(conv_steps(x, np.ones((1, 1, 2, 2)), dilation=2), ("gray",))
    assert dilated["frames"][0]["layout"]["shapes"][0]["path"].count("Z") == 4  # taps apart: 4 squares
    big = conv_steps(np.ones((1, 14, 14)), np.ones((1, 1, 3, 3)))
    assert forward_figure(big, ("gray",))["data"][1]["texttemplate"] == "%{z:.1f}"  # wide grid: 1 decimal


def test_pooling_text_counts_from_one() -> None:
    x = np.zeros((1, 4, 4))
    x[0, 1, 3] = 5.0  # the winner of output cell (row 1, col 2) is window row 2, col 2
    plan = pool_steps(x, 2, mode="max")
    title = forward_figure(plan, ("gray",))["frames"][1]["layout"]["title"]["text"]
    assert "output row 1, col 2" in title and "window row 2, col 2" in title
    back = backward_figure(plan, pool_backward(plan, np.ones((1, 2, 2))))
    assert "input row 2, col 4" in back["frames"][1]["layout"]["title"]["text"]


def _gif_frames(data: bytes) -> list[np.ndarray]:
    img = Image.open(__import__("io").BytesIO(data))
    out = []
    for i in range(img.n_frames):
        img.seek(i)
        out.append(np.asarray(img.convert("RGB")))
    return out


def test_gif_is_colour_projector_sized_and_follows_the_operation() -> None:
    x = np.random.default_rng(4).random((3, 8, 8))
    conv = gif_bytes(conv_steps(x, np.ones((1, 3, 3, 3))), ("R", "G", "B"))
    pool = gif_bytes(pool_steps(x, 2, mode="max"), ("R", "G", "B"))
    cf, pf = _gif_frames(conv), _gif_frames(pool)
    assert len(cf) == 36 and len(pf) == 16 and cf[0].shape[1] >= 1000
    rgb = cf[-1].reshape(-1, 3).astype(int)
    assert (np.ptp(rgb, axis=1) > 60).mean() > 0.1  # colour, not greyscale
    red = pf[-1].reshape(-1, 3).astype(int)  # the R channel's pooling: red cells, no blue ramp
    assert ((red[:, 0] - red[:, 2]) > 80).mean() > 0.05


def test_step_line_and_cells_write_the_same_number() -> None:
    plan = conv_steps(np.array([[[0.255, 1.005]]]), np.ones((1, 1, 1, 1)))  # binary: just below .xx5
    spec = forward_figure(plan, ("gray",))
    out = [d for d in spec["data"] if d.get("texttemplate") == "%{z:.2f}"][-1]
    assert out["z"] == [[0.26, 1.0]]  # plotly writes these numbers with 2 decimals …
    titles = [f["layout"]["title"]["text"] for f in spec["frames"]]
    assert "<b>0.26</b>" in titles[0] and "<b>1.00</b>" in titles[1]  # … and so does the step line


def test_hover_names_count_cells_from_one_like_the_step_line() -> None:
    from app.lab.anim import cell_names
    from vizcore.lab.stepping import PAD, REAL, ZERO

    assert cell_names((2, 3))[1][2] == "row 2, col 3"
    # padding 1 around a 2×2 input upsampled by a stride-2 transposed convolution (a zero in between)
    kinds = np.full((5, 5), PAD)
    kinds[1:4, 1:4] = ZERO
    kinds[1::2, 1::2][:2, :2] = REAL
    names = cell_names(kinds.shape, kinds)
    assert names[0][0] == "padding" and names[2][2] == "inserted zero"
    assert names[1][1] == "row 1, col 1" and names[3][3] == "row 2, col 2" and names[1][3] == "row 1, col 2"


def test_presenter_layout_puts_channels_side_by_side() -> None:
    from vizcore.lab.stepping import conv_steps

    rng = np.random.default_rng(0)
    plan = conv_steps(rng.random((3, 8, 8)), rng.standard_normal((1, 3, 3, 3)))
    wide, tall = forward_figure(plan, ("R", "G", "B"), big=True), forward_figure(plan, ("R", "G", "B"))
    titles = [a["text"] for a in wide["layout"]["annotations"]]
    assert titles[:4] == ["input · R", "input · G", "input · B", "output"] and "products · B" in titles

    def domains(spec: dict, hover: str) -> list[tuple[list[float], list[float]]]:
        lay = spec["layout"]
        return [(lay["xaxis" + d["xaxis"][1:]]["domain"], lay["yaxis" + d["yaxis"][1:]]["domain"])
                for d in spec["data"] if hover in d.get("hovertemplate", "")]

    inputs = [domains(wide, f"{n} %{{customdata}}")[0] for n in "RGB"]
    assert inputs[0][0][1] < inputs[1][0][0] and inputs[1][0][1] < inputs[2][0][0]  # side by side
    assert len({tuple(y) for _, y in inputs}) == 1  # on one row
    tall_inputs = [domains(tall, f"{n} %{{customdata}}")[0] for n in "RGB"]
    assert len({tuple(x) for x, _ in tall_inputs}) == 1  # the default: one row per channel
    assert wide["layout"]["height"] < tall["layout"]["height"]
    # the same numbers and frames either way
    assert [d.get("z") for d in wide["data"]] == [d.get("z") for d in tall["data"]]
    strip = [[(f["data"], f["traces"], f["layout"]["title"]) for f in spec["frames"]]
             for spec in (wide, tall)]
    assert strip[0] == strip[1]  # (the window outlines name other axes)
