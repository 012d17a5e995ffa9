"""LeNet-5: the 1998 layout, the shipped weights' held-out accuracy, and the draw-a-digit path."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from app.usermodel.digit import centre_digit
from models.lenet import WEIGHTS_FILE, LeNet5
from models.registry import get_spec, list_specs, load_model
from tests.conftest import assert_clean
from vizcore.core.images import load_image
from vizcore.core.preprocess import to_input


@pytest.fixture(scope="module")
def lenet():
    return load_model("lenet5")


@pytest.fixture(scope="module")
def held_out():
    pytest.importorskip("sklearn", reason="scikit-learn is needed for the digits data set")
    from models.train_lenet import digits_split

    return digits_split()[2:]


def test_1998_layout() -> None:
    m = LeNet5()
    convs = [mod for mod in m.modules() if isinstance(mod, nn.Conv2d)]
    linears = [mod for mod in m.modules() if isinstance(mod, nn.Linear)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 6, (5, 5)), (6, 16, (5, 5))]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(400, 120), (120, 84), (84, 10)]
    x = torch.zeros(1, 1, 32, 32)
    sizes = []
    for layer in m.features:
        x = layer(x)
        sizes.append(x.shape[-1])
    assert sizes == [28, 28, 14, 10, 10, 5]


def test_registry_entry_works_offline(lenet) -> None:
    spec = get_spec("lenet5")
    assert spec in list_specs() and WEIGHTS_FILE.is_file() and WEIGHTS_FILE.stat().st_size < 300_000
    assert (spec.channels, spec.input_size, spec.categories, spec.default_layer) == (
        1, 32, tuple("0123456789"), "features.3")
    assert lenet.trained
    assert_clean(lenet.model)


def test_shipped_weights_held_out_accuracy(lenet, held_out) -> None:
    from safetensors import safe_open

    from models.train_lenet import accuracy

    x, y = held_out
    acc = accuracy(lenet.model, x, y)
    print(f"LeNet-5 held-out accuracy: {acc:.2%} on {len(y)} digits")
    assert acc >= 0.97
    with safe_open(str(WEIGHTS_FILE), "pt") as f:
        assert abs(float(f.metadata()["held_out_accuracy"]) - acc) < 1e-4  # the README's number
    assert_clean(lenet.model)


def _canvas(digit8: torch.Tensor, *, size: int = 224, box: int, left: int, top: int) -> np.ndarray:
    """A held-out 8×8 digit "drawn" at (left, top) on a transparent canvas: (size, size, 4) RGBA."""
    up = F.interpolate(digit8[None], size=(box, box), mode="bilinear", align_corners=False)[0, 0]
    ink = (up.clamp(0, 1) * 255).round().byte().numpy()
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[top:top + box, left:left + box, :3] = 255
    rgba[top:top + box, left:left + box, 3] = ink
    return rgba


def test_drawn_digits_feed_lenet(lenet, held_out) -> None:
    """Canvas → centred digit → the app's image loader → LeNet's preprocessing → prediction, for
    held-out digits drawn small and off-centre on the canvas."""
    x, y = held_out
    pick = torch.arange(0, len(y), 4)[:90]
    rng = np.random.default_rng(0)
    correct = 0
    for i in pick.tolist():
        d8 = F.interpolate(x[i:i + 1], size=(8, 8), mode="area")[0]
        box = int(rng.integers(90, 180))
        left, top = (int(v) for v in rng.integers(0, 224 - box, size=2))
        canvas = _canvas(d8, box=box, left=left, top=top)
        digit = centre_digit(canvas)
        buf = io.BytesIO()
        digit.save(buf, format="PNG")
        img = load_image(buf.getvalue())
        with torch.no_grad():
            correct += int(lenet.model(to_input(img.image, lenet.spec)).argmax()) == int(y[i])
    assert correct / len(pick) >= 0.9, f"{correct}/{len(pick)}"


def test_centre_digit_geometry() -> None:
    assert centre_digit(np.zeros((50, 50, 4), np.uint8)) is None
    canvas = np.zeros((200, 200, 4), np.uint8)
    canvas[10:50, 140:190] = 255  # a wide blob in the top right corner
    out = np.asarray(centre_digit(canvas, size=100, fill=0.8))
    ys, xs = np.nonzero(out > 128)
    assert abs((xs.min() + xs.max()) / 2 - 49.5) <= 1 and abs((ys.min() + ys.max()) / 2 - 49.5) <= 1
    assert xs.max() - xs.min() + 1 == pytest.approx(80, abs=2)  # longer side → 80 % of the picture
    bar = np.zeros((200, 200, 3), np.uint8)
    bar[20:180, 98:102] = 255  # a thin "1" is widened to min_aspect × height
    out = np.asarray(centre_digit(bar, size=100, fill=0.9, min_aspect=0.45))
    ys, xs = np.nonzero(out > 128)
    assert ys.max() - ys.min() + 1 == pytest.approx(90, abs=2) and xs.max() - xs.min() + 1 >= 36
    with pytest.raises(ValueError, match="canvas"):
        centre_digit(np.zeros((5, 5)))


def test_drawn_image_matches_canvas_orientation(lenet) -> None:
    """White ink on black reaches the model as bright values (the training convention)."""
    canvas = np.zeros((100, 100, 4), np.uint8)
    canvas[20:80, 45:55] = 255
    x = to_input(centre_digit(canvas).convert("RGB"), lenet.spec)
    assert x.shape == (1, 1, 32, 32) and x.max() > 0.9 and x.min() == pytest.approx(-1.0)


@pytest.mark.parametrize("kind", ["channel", "logit"])
def test_feature_visualisation_is_grey_for_a_grey_model(lenet, kind: str) -> None:
    """Grayscale parameterisation: the optimised picture is grey, and the objective rises."""
    from vizcore.featvis import Settings, Target
    from vizcore.featvis.render import render

    target = Target("channel", "features.3", (3,)) if kind == "channel" else Target("logit", "", (7,))
    settings = Settings(size=32, steps=24, robust=kind == "channel")
    res = render(lenet.model, target, mean=lenet.spec.mean, std=lenet.spec.std, settings=settings)
    img = res.images[0].astype(int)
    assert img.shape == (32, 32, 3)
    assert (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all()
    assert res.values[0] > res.history[0, 0]
    assert_clean(lenet.model)


def test_first_layer_filters_are_grey_pictures(lenet) -> None:
    """A 1-channel first conv is shown as grey pictures: mid-grey = 0, brighter = positive weights."""
    from vizcore.inside.filters import filter_bank, rgb_tiles

    bank = filter_bank(lenet.model, "features.0")
    assert bank.is_rgb and bank.in_channels == 1
    tiles = rgb_tiles(bank, np.arange(bank.count), size=5)
    assert tiles.shape == (6, 5, 5, 3) and (tiles[..., 0] == tiles[..., 2]).all()
    w = bank.weight[0, 0]
    m = np.abs(bank.weight).max()
    assert tiles[0, 0, 0, 0] == round((0.5 + 0.5 * w[0, 0] / m) * 255)
