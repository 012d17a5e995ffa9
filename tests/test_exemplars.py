"""Dataset exemplars: ranking, winning positions and receptive-field patches (hand-checked)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.conftest import assert_clean, count_hooks
from vizcore.core.hooks import capture, run_until
from vizcore.featvis.exemplars import exemplars
from vizcore.inside.receptive import receptive_field, rf_box

MEAN, STD = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)


def red_detector() -> nn.Module:
    """Conv(3→2, 3×3, stride 2, pad 1): channel 0 = sum of red in the window, channel 1 = -red."""
    conv = nn.Conv2d(3, 2, 3, stride=2, padding=1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 0] = 1.0
        conv.weight[1, 0] = -1.0
    return nn.Sequential(conv, nn.ReLU()).eval().requires_grad_(False)


def images() -> np.ndarray:
    """Three 32×32 black images with a red dot of brightness 100 / 250 / 180 at different places."""
    px = np.zeros((3, 32, 32, 3), dtype=np.uint8)
    px[0, 10, 12, 0] = 100
    px[1, 20, 6, 0] = 250
    px[2, 3, 29, 0] = 180
    return px


def test_ranking_positions_and_rf_boxes_match_hand_computation() -> None:
    net = red_detector()
    ex = exemplars(net, images(), layer="0", channel=0, mean=MEAN, std=STD, k=2)
    assert [e.index for e in ex.top] == [1, 2]  # top-k by the strongest response
    assert ex.top[0].value == pytest.approx(250 / 255, rel=1e-5)
    # 3×3 kernel, stride 2, pad 1: RF 3 px, jump 2, start -1 → unit (r, c) sees rows 2r-1 … 2r+1.
    assert (ex.rf.size, ex.rf.jump, ex.rf.start) == (3, 2, -1)
    # pixel (20, 6) is the centre of unit (10, 3): rows 19..21, cols 5..7
    e = ex.top[0]
    assert (e.row, e.col) == (10, 3)
    assert e.box == (19, 5, 22, 8) == rf_box(ex.rf, 10, 3, 32)
    np.testing.assert_array_equal(e.patch, images()[1, 19:22, 5:8])
    # pixel (3, 29): unit rows 1..2 both see row 3 (tie: first = row 1); cols 14..15 see 29 → 14
    e2 = ex.top[1]
    assert (e2.row, e2.col) == (1, 14)
    assert e2.box == (1, 27, 4, 30)
    assert ex.map_size == (16, 16) and ex.n_images == 3
    assert_clean(net)


def test_failures_refused_and_clean() -> None:
    net = red_detector()
    with pytest.raises(ValueError, match="2 channels"):
        exemplars(net, images(), layer="0", channel=5, mean=MEAN, std=STD)
    assert count_hooks(net) == 0
    with pytest.raises(ValueError, match="at least one"):
        exemplars(net, np.zeros((0, 32, 32, 3), np.uint8), layer="0", channel=0, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="square"):
        exemplars(net, np.zeros((1, 32, 30, 3), np.uint8), layer="0", channel=0, mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="No layer named"):
        exemplars(net, images(), layer="9", channel=0, mean=MEAN, std=STD)
    assert_clean(net)


def test_lite0_boxes_are_the_theoretical_rf_of_the_winner(lite0, chelsea, coffee) -> None:
    from vizcore.core.preprocess import resize_crop, to_input

    spec, layer = lite0.spec, "_blocks.5._project_conv"
    pics = [chelsea, coffee]
    px = np.stack([np.asarray(resize_crop(p.image, spec)) for p in pics])
    ex = exemplars(lite0.model, px, layer=layer, channel=7, mean=spec.mean, std=spec.std, k=2,
                   batch=1)
    info = receptive_field(lite0.model, layer, input_size=spec.input_size)
    assert ex.rf == info
    with torch.no_grad(), capture(lite0.model, [layer], stop_after=True) as store:
        maps = []
        for p in pics:
            run_until(lite0.model, to_input(p.image, spec))
            maps.append(store[layer][0, 7].numpy())
    for e in ex.top:
        m = maps[e.index]
        assert e.value == pytest.approx(float(m.max()), rel=1e-4, abs=1e-4)
        assert m[e.row, e.col] == pytest.approx(float(m.max()), rel=1e-4, abs=1e-4)
        assert e.box == rf_box(info, e.row, e.col, spec.input_size)
        t, left, b, r = e.box
        assert e.patch.shape == (b - t, r - left, 3)
    assert ex.top[0].value >= ex.top[1].value
    assert_clean(lite0.model)
