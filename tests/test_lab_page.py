"""AppTest of the Classroom lab page (headless, caches cleared, no threads)."""

from __future__ import annotations

import functools
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import app.lab.tasks as lab_task
from app.shell.navigation import page_file
from tests.apptest_utils import fresh_app, no_exceptions, open_page
from vizcore.core.render import symmetric_colorize


def _text(at) -> str:
    return " ".join(str(m.value) for m in [*at.markdown, *at.caption, *at.info, *at.error])


def _players(at) -> list:
    return [e for e in at.get("iframe") if "Plotly.newPlot" in str(getattr(e.proto, "srcdoc", ""))]


def _figure(at) -> dict:
    """The plotly figure (data, layout, frames) inside the page's animation player."""
    html = str(_players(at)[0].proto.srcdoc)
    return json.loads(html.split("const fig = ", 1)[1].split(";\n", 1)[0])


def test_lab_page_whole_lesson() -> None:
    at = open_page("lab.py")
    no_exceptions(at)
    assert "Start simple" in _text(at) and "Sobel x" in _text(at)  # grey region, an edge detector
    assert at.radio(key="lab_rgb").value == "gray" and at.radio(key="lab_src").value == "preset"
    at.radio(key="lab_src").set_value("learned filter").run()  # the learned filter: one click away
    text = _text(at)
    assert "Real learned filter 1 of 32" in text and "_conv_stem" in text and "BatchNorm" in text
    assert "γ/√(σ² + ε)" in text  # the folding explained
    assert "⌊(8 + 0 − 1·2 − 1) / 1⌋ + 1" in text  # formula with the numbers substituted
    assert len(_players(at)) == 1

    # a classic preset, stride 2, padding 1: the formula follows live
    at.radio(key="lab_src").set_value("preset").run()
    at.number_input(key="lab_stride").set_value(2).run()
    at.selectbox(key="lab_pad").set_value("1").run()
    no_exceptions(at)
    assert "⌊(8 + 2 − 1·2 − 1) / 2⌋ + 1 = ⌊7 / 2⌋ + 1 = 4" in _text(at)

    # impossible: a 7×7 kernel with dilation 4 on a 4×4 grid is explained, not crashed on
    at.number_input(key="lab_stride").set_value(1).run()
    at.select_slider(key="lab_grid").set_value(4).run()
    at.slider(key="lab_k").set_value(7).run()
    at.number_input(key="lab_dil").set_value(4).run()
    no_exceptions(at)
    assert at.error and "no position to put it" in at.error[0].value
    assert "= -" in _text(at)  # the formula shows the negative size

    # custom kernel through the data editor
    at.number_input(key="lab_dil").set_value(1).run()
    at.slider(key="lab_k").set_value(3).run()
    at.radio(key="lab_src").set_value("custom").run()
    no_exceptions(at)
    assert not at.error and len(_players(at)) == 1

    # pooling: max with the winner, and the backward view
    at.selectbox(key="lab_op").set_value("max").run()
    no_exceptions(at)
    assert "Max pooling" in _text(at) and "winner" in _text(at)
    at.segmented_control(key="lab_view").set_value("backward (gradients)").run()
    no_exceptions(at)
    assert "made up (1, 2, 3" in _text(at)
    assert "goes to the winner" in str(_players(at)[0].proto.srcdoc)

    # depthwise, transposed and global average pooling also render
    for op in ("depthwise", "transposed", "gap"):
        at.selectbox(key="lab_op").set_value(op).run()
        no_exceptions(at)
        assert not at.error, (op, [e.value for e in at.error])
        # the backward view stays on where it exists (depthwise: static gradients figure)
        assert len(_players(at)) == (op != "depthwise") and len(at.get("plotly_chart")) == (op == "depthwise")

    # GIF export
    at.selectbox(key="lab_op").set_value("conv").run()
    at.button(key="lab_gif_make").click().run()
    no_exceptions(at)
    assert "lab_gif" not in at.session_state and at.session_state["lab_gif_on"]


@pytest.fixture
def lab_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Record (image, params, result) of every uncached ``app.lab.tasks.lab`` call the page makes."""
    seen: list[tuple] = []
    real = lab_task.lab

    @functools.wraps(real)  # same module + qualname: the same cache key as the real task
    def spy(loaded, image, **params):
        res = real(loaded, image, **params)
        seen.append((image, params, res))
        return res

    monkeypatch.setattr(lab_task, "lab", spy)
    return seen


def _photo(image, side: int) -> torch.Tensor:
    """The downscaled whole RGB photo the task works on, (1, 3, H, W) in 0–1."""
    img = image.image.copy()
    img.thumbnail((side, side))
    return torch.from_numpy(np.asarray(img.convert("RGB"), np.float32).transpose(2, 0, 1) / 255.0)[None]


def test_lab_page_pooling_padding(lab_calls) -> None:
    at = open_page("lab.py")
    at.radio(key="lab_rgb").set_value("RGB").run()
    at.selectbox(key="lab_op").set_value("max").run()
    at.selectbox(key="lab_pool_pad").set_value(1).run()  # window 2, stride 2 (defaults)
    no_exceptions(at)
    assert not at.error
    assert "⌊(8 + 2 − 1·1 − 1) / 2⌋ + 1 = ⌊8 / 2⌋ + 1 = 5" in _text(at)
    assert "−∞" in _text(at)  # the explanation says what max pooling pads with
    image, params, res = lab_calls[-1]
    assert params["settings"].padding == 1 and params["settings"].op == "max"
    fig = _figure(at)
    assert len(res.plan) == 3 * 5 * 5 and len(fig["frames"]) == 25  # the step channel's 5×5 steps
    assert fig["layout"]["annotations"][0]["text"] == "input (padded with −∞)"
    assert "padding (−∞) never wins" in fig["frames"][0]["layout"]["title"]["text"]
    grid = torch.from_numpy(res.grid)[None]
    np.testing.assert_allclose(res.plan.output, F.max_pool2d(grid, 2, 2, padding=1)[0].numpy())
    photo = _photo(image, lab_task.WHOLE_SIDE)
    ref = (F.max_pool2d(photo, 2, 2, padding=1)[0].clamp(0, 1).numpy().transpose(1, 2, 0) * 255)
    assert res.whole.shape == (photo.shape[2] // 2 + 1, photo.shape[3] // 2 + 1, 3)
    np.testing.assert_array_equal(res.whole, ref.astype(np.uint8))
    at.segmented_control(key="lab_view").set_value("backward (gradients)").run()
    no_exceptions(at)

    # average pooling keeps the padding; its zeros count in the mean (torch's default)
    at.selectbox(key="lab_op").set_value("avg").run()
    no_exceptions(at)
    _, params, res = lab_calls[-1]
    assert params["settings"].padding == 1 and "count_include_pad" in _text(at)
    grid = torch.from_numpy(res.grid)[None].requires_grad_(True)
    y = F.avg_pool2d(grid, 2, 2, padding=1)
    np.testing.assert_allclose(res.plan.output, y[0].detach().numpy())
    (g_in,) = torch.autograd.grad(y, grid, torch.from_numpy(res.routing.grad_out)[None])
    np.testing.assert_allclose(res.routing.grad_in, g_in[0].numpy())  # still the backward view
    assert "on padding: dropped" in _figure(at)["frames"][0]["layout"]["title"]["text"]
    ref = F.avg_pool2d(photo, 2, 2, padding=1)[0].clamp(0, 1).numpy().transpose(1, 2, 0) * 255
    np.testing.assert_array_equal(res.whole, ref.astype(np.uint8))

    # impossible: padding 2 on a 2×2 window is explained, not crashed on
    at.selectbox(key="lab_pool_pad").set_value(2).run()
    no_exceptions(at)
    assert at.error and "half the window" in at.error[0].value
    assert "window, stride or padding" in _text(at)


def test_lab_page_transposed_output_padding(lab_calls) -> None:
    at = open_page("lab.py")
    at.radio(key="lab_rgb").set_value("RGB").run()
    at.selectbox(key="lab_op").set_value("transposed").run()
    at.radio(key="lab_src").set_value("preset").run()
    at.number_input(key="lab_stride").set_value(2).run()
    at.selectbox(key="lab_out_pad").set_value(1).run()
    no_exceptions(at)
    assert not at.error
    assert "(n − 1)·s − 2p + d(k−1) + output_padding + 1 = (8 − 1)·2 − 2·0 + 1·2 + 1 + 1 = 18" in _text(at)
    image, params, res = lab_calls[-1]
    assert params["settings"].output_padding == 1 and params["settings"].stride == 2
    fig = _figure(at)
    assert len(res.plan) == 18 * 18 == len(fig["frames"])
    assert "+1 bottom/right: output padding" in fig["layout"]["annotations"][0]["text"]
    w, b = torch.from_numpy(res.kernel)[:, None], torch.tensor([res.bias], dtype=torch.float64)
    ref = F.conv_transpose2d(torch.from_numpy(res.grid)[None], w, b, stride=2, output_padding=1)
    np.testing.assert_allclose(res.plan.output, ref[0].numpy(), atol=1e-9)
    photo = _photo(image, lab_task.WHOLE_SIDE // 4)
    y = F.conv_transpose2d(photo, w.float(), b.float(), stride=2, output_padding=1)[0, 0]
    k = res.kernel.shape[-1]  # (n − 1)·2 + (k − 1) + output_padding 1 + 1 per side
    assert res.whole.shape[:2] == ((photo.shape[2] - 1) * 2 + k + 1, (photo.shape[3] - 1) * 2 + k + 1)
    np.testing.assert_array_equal(res.whole, symmetric_colorize(y.numpy()))

    # impossible: output padding 1 needs a stride (or dilation) of at least 2
    at.number_input(key="lab_stride").set_value(1).run()
    no_exceptions(at)
    assert at.error and "smaller than the stride" in at.error[0].value
    assert "output padding" in _text(at) and "= 11" in _text(at)  # the formula still shows the size


def _static(at) -> dict:
    """The static plotly figure of the convolution backward view."""
    (chart,) = at.get("plotly_chart")
    return json.loads(chart.proto.spec)


def _shown(fig: dict, what: str, crop: tuple[int, int, int, int] = (0, 0, 0, 0)) -> np.ndarray:
    """The numbers of every heatmap whose hover says ``what`` (one per channel row), as (C, h, w)."""
    t, b, left, r = crop
    zs = [np.array(d["z"], dtype=float) for d in fig["data"]
          if d["type"] == "heatmap" and what in d.get("hovertemplate", "")]
    return np.stack([z[t:z.shape[0] - b, left:z.shape[1] - r] for z in zs])


def _conv_oracle(res, params, g: np.ndarray | None = None, groups: int = 1) -> tuple[np.ndarray, ...]:
    params = vars(params["settings"])
    x = torch.from_numpy(res.grid)[None].requires_grad_(True)
    w = torch.from_numpy(res.kernel)[None] if groups == 1 else torch.from_numpy(res.kernel)[:, None]
    w.requires_grad_(True)
    b = torch.full((w.shape[0],), res.bias, dtype=torch.float64, requires_grad=True)
    y = F.conv2d(x, w, b, stride=params["stride"], padding=params["padding"],
                 dilation=params["dilation"], groups=groups)
    g = torch.ones_like(y) if g is None else torch.from_numpy(g)[None]
    return tuple(t.numpy() for t in torch.autograd.grad((y * g).sum(), (x, w, b)))


def _check_one_cell(at, res, params: dict, n: int, cell: tuple[int, int]) -> np.ndarray:
    """The page's ∂L/∂x and ∂L/∂w for g = 1 at ``cell`` of an n×n output equal autograd's; returns
    autograd's ∂L/∂w."""
    g = np.zeros((1, n, n))
    g[0, cell[0], cell[1]] = 1.0
    gx, gw, _ = _conv_oracle(res, params, g)
    fig = _static(at)
    np.testing.assert_allclose(_shown(fig, "∂L/∂x", res.plan.pad), gx[0], atol=1e-4)
    np.testing.assert_allclose(_shown(fig, "∂L/∂w"), gw[0], atol=1e-4)
    return gw


def test_lab_page_conv_backward(lab_calls) -> None:
    at = open_page("lab.py")
    at.radio(key="lab_src").set_value("learned filter").run()
    at.segmented_control(key="lab_view").set_value("backward (gradients)").run()
    no_exceptions(at)
    assert not at.error and not _players(at)  # a static figure, no animation player
    _, params, res = lab_calls[-1]
    assert params["settings"].source == "learned" and params["settings"].op == "conv"
    gx, gw, gb = _conv_oracle(res, params)
    fig = _static(at)
    np.testing.assert_allclose(_shown(fig, "∂L/∂x", res.plan.pad), gx[0], atol=1e-4)
    np.testing.assert_allclose(_shown(fig, "∂L/∂w"), gw[0], atol=1e-4)
    np.testing.assert_allclose(_shown(fig, "g at output"), 1.0)
    assert f"**∂L/∂b** = Σ g = **{gb[0]:.4g}**" in _text(at) and gb[0] == 36  # 6×6 output cells
    assert "*transposed convolution* of g" in _text(at) and "180°-flipped" in _text(at)

    # one output cell: ∂L/∂w = the input patch it read, ∂L/∂x = the kernel on its window
    at.radio(key="lab_grad_mode").set_value("one output cell").run()
    at.number_input(key="lab_grad_row").set_value(2).run()  # the widgets count from 1
    at.number_input(key="lab_grad_col").set_value(5).run()
    no_exceptions(at)
    gw = _check_one_cell(at, res, params, 6, (1, 4))
    np.testing.assert_allclose(gw[0], res.grid[:, 1:4, 4:7])  # the patch under that window
    assert "g = 1 only at output row 2, col 5**" in _text(at) and "= **1**" in _text(at)

    # a Sobel preset with stride 2 (3×3 output: the column 4 is pulled in to 2), then padding 1
    at.radio(key="lab_src").set_value("preset").run()
    at.number_input(key="lab_stride").set_value(2).run()
    assert at.number_input(key="lab_grad_col").value == 3 and "output row 2, col 3**" in _text(at)
    at.selectbox(key="lab_pad").set_value("1").run()
    no_exceptions(at)
    _, params, res = lab_calls[-1]
    assert res.plan.output.shape == (1, 4, 4) and at.number_input(key="lab_grad_col").value == 3
    _check_one_cell(at, res, params, 4, (1, 2))
    assert "output padding 1" in _text(at)  # (4 − 1)·2 + 3 = 9 of the 10 padded rows are reached

    # depthwise: one kernel and one bias per channel, g = 1 everywhere
    at.radio(key="lab_rgb").set_value("RGB").run()
    at.selectbox(key="lab_op").set_value("depthwise").run()
    at.radio(key="lab_grad_mode").set_value("all ones (L = the sum of the outputs)").run()
    no_exceptions(at)
    _, params, res = lab_calls[-1]
    gx, gw, gb = _conv_oracle(res, params, groups=3)
    fig = _static(at)
    np.testing.assert_allclose(_shown(fig, "∂L/∂x", res.plan.pad), gx[0], atol=1e-4)
    np.testing.assert_allclose(_shown(fig, "∂L/∂w"), gw[:, 0], atol=1e-4)
    assert "Σ g per channel: R **16** · G **16** · B **16**" in _text(at)


@pytest.fixture
def gif_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """Record (settings, GIF bytes) of every uncached ``app.lab.tasks.gif`` call."""
    seen: list[tuple] = []
    real = lab_task.gif

    @functools.wraps(real)
    def spy(loaded, image, **params):
        data = real(loaded, image, **params)
        seen.append((params["settings"], data))
        return data

    monkeypatch.setattr(lab_task, "gif", spy)
    return seen


def _n_frames(data: bytes) -> int:
    from PIL import Image

    return Image.open(__import__("io").BytesIO(data)).n_frames


def test_lab_gif_always_matches_the_settings(gif_calls) -> None:
    at = open_page("lab.py")
    assert not gif_calls  # nothing drawn until asked
    at.button(key="lab_gif_make").click().run()
    no_exceptions(at)
    (settings, conv), = gif_calls
    assert settings.op == "conv" and _n_frames(conv) == 36  # 8×8 grey, 3×3 Sobel: 6×6 steps
    at.selectbox(key="lab_op").set_value("max").run()  # no click: the offered GIF follows
    no_exceptions(at)
    settings, pool = gif_calls[-1]
    assert settings.op == "max" and pool != conv and _n_frames(pool) == 16  # 2×2 windows, stride 2
    at.selectbox(key="lab_op").set_value("conv").run()  # back: the shared cache answers
    assert len(gif_calls) == 2 and "lab_gif" not in at.session_state


def test_lab_settings_travel_in_the_url() -> None:
    at = open_page("lab.py")
    at.selectbox(key="lab_op").set_value("avg").run()
    at.slider(key="lab_pool_k").set_value(3).run()
    no_exceptions(at)
    assert at.query_params["lab_op"] == "avg" and at.query_params["lab_pool_k"] == "3"
    # a fresh session opened on that link shows the same lesson
    fresh = fresh_app()
    for key, value in {"lab_op": "avg", "lab_pool_k": "3", "lab_pool_s": "1", "step": "4",
                       "lab_grid": "99"}.items():  # an impossible grid is ignored, not an error
        fresh.query_params[key] = value
    fresh.run()
    fresh.switch_page(page_file("lab")).run()
    no_exceptions(fresh)
    assert fresh.selectbox(key="lab_op").value == "avg" and fresh.slider(key="lab_pool_k").value == 3
    assert fresh.select_slider(key="lab_grid").value == 8
    html = str(_players(fresh)[0].proto.srcdoc)
    assert "const START = 3," in html  # the player opens on step 4
    assert "⌊(8 + 0 − 1·2 − 1) / 1⌋ + 1 = ⌊5 / 1⌋ + 1 = 6" in _text(fresh)
