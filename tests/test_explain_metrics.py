"""Faithfulness (deletion / insertion / average drop) and the sanity check (cascading randomisation)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import vizcore.explain.faithfulness as faith_mod
from tests.conftest import assert_clean
from vizcore.core.hooks import batch_size_for
from vizcore.core.preprocess import to_input
from vizcore.explain.faithfulness import auc, faithfulness
from vizcore.explain.methods import explain
from vizcore.explain.sanity import cascading_randomisation, parameter_layers, spearman


class QuadrantModel(nn.Module):
    """logit0 = 4 · mean of the top-left quadrant, logit1 = 0: only that quadrant matters."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = 4 * x[:, :, :4, :4].mean(dim=(1, 2, 3))
        return torch.stack([s, torch.zeros_like(s)], 1)


def test_auc_by_hand() -> None:
    assert auc(np.array([0, 0.5, 1]), np.array([1, 0.5, 0])) == pytest.approx(0.5)
    assert auc(np.array([0, 1]), np.array([1, 1])) == pytest.approx(1.0)


def test_right_map_is_more_faithful_than_wrong_map() -> None:
    model = QuadrantModel()
    x = torch.zeros(1, 3, 8, 8)
    x[:, :, :4, :4] = 1  # the blurred start of insertion is 0.25 everywhere: logit 1
    good = np.zeros((8, 8), np.float32)
    good[:4, :4] = 1
    bad = 1 - good
    fg = faithfulness(model, x, good, 0, steps=4)
    fb = faithfulness(model, x, bad, 0, steps=4)
    p = 1 / (1 + np.exp(-4))
    assert fg.probability == pytest.approx(p)
    # deleting the top-left quadrant (first 25% of pixels) removes all evidence: p → sigmoid(0) = 0.5
    np.testing.assert_allclose(fg.deletion, [p, 0.5, 0.5, 0.5, 0.5], rtol=1e-5)
    np.testing.assert_allclose(fb.deletion, [p, p, p, p, 0.5], rtol=1e-5)
    assert fg.deletion_auc < fb.deletion_auc
    q = 1 / (1 + np.exp(-1))
    np.testing.assert_allclose(fg.insertion, [q, p, p, p, p], rtol=1e-5)
    np.testing.assert_allclose(fb.insertion, [q, q, q, q, p], rtol=1e-5)
    assert fg.insertion_auc > fb.insertion_auc
    assert fg.average_drop == pytest.approx(0.0, abs=1e-5)  # x · map keeps the quadrant intact
    assert fb.average_drop == pytest.approx(100 * (p - 0.5) / p, rel=1e-5)


def test_faithfulness_refuses_bad_shapes_and_handles_nan() -> None:
    model = QuadrantModel()
    with pytest.raises(ValueError, match="does not match"):
        faithfulness(model, torch.ones(1, 3, 8, 8), np.zeros((4, 4)), 0)
    f = faithfulness(model, torch.ones(1, 3, 8, 8), np.full((8, 8), np.nan), 0, steps=2)
    assert np.isfinite(f.deletion).all() and np.isfinite(f.average_drop)


def test_faithfulness_on_lite0_leaves_model_clean(lite0, chelsea, monkeypatch: pytest.MonkeyPatch) -> None:
    x = to_input(chelsea.image, lite0.spec)
    cam = explain(lite0.model, x, "gradcam", layer="_relu1", target=281)
    f = faithfulness(lite0.model, x, cam.heatmap, 281, steps=5)
    assert f.deletion.shape == f.insertion.shape == (6,)
    assert f.deletion[0] == pytest.approx(f.insertion[-1], rel=1e-4)  # both are the untouched photo
    assert 0 <= f.deletion_auc <= 1 and 0 <= f.insertion_auc <= 1 and 0 <= f.average_drop <= 100
    assert ((f.deletion >= 0) & (f.deletion <= 1)).all()
    big = faithfulness(lite0.model, x, cam.heatmap, 281, steps=5, batch_size=32)  # one batch
    np.testing.assert_allclose(f.deletion, big.deletion, atol=1e-5)  # the batch size is only speed
    np.testing.assert_allclose(f.insertion, big.insertion, atol=1e-5)
    sizes: list[int] = []
    real = faith_mod._probs
    monkeypatch.setattr(faith_mod, "_probs", lambda *a: sizes.append(a[-1]) or real(*a))
    faithfulness(lite0.model, x, cam.heatmap, 281, steps=5)
    assert sizes == [batch_size_for(lite0.model, 4)] == [4]  # CPU-sized batches by default
    assert_clean(lite0.model)


def test_spearman() -> None:
    a = np.arange(16.0).reshape(4, 4)
    assert spearman(a, a ** 3) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)
    assert spearman(a, np.zeros_like(a)) == 0.0


def test_sanity_never_mutates_the_shared_model(lite0, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    before = {k: v.clone() for k, v in lite0.model.state_dict().items()}
    res = cascading_randomisation(
        lite0.model, x, lambda m, xx: explain(m, xx, "gradcam", layer="_relu1", target=281).heatmap,
        counts=(1, 3))
    after = lite0.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert_clean(lite0.model)
    assert res.maps.shape == (3, 224, 224) and res.randomised == (1, 3)
    assert res.layer_names == tuple(parameter_layers(lite0.model)[:3]) == ("_fc", "_bn1", "_conv_head")
    assert res.similarity[-1] < 0.5 and not res.flagged  # Grad-CAM depends on the weights


def test_sanity_flags_a_method_that_ignores_the_model() -> None:
    model = nn.Sequential(nn.Conv2d(3, 2, 1), nn.Flatten(), nn.LazyLinear(2)).eval()
    x = torch.rand(1, 3, 4, 4, generator=torch.Generator().manual_seed(0))
    model(x)
    edge = lambda _m, xx: xx[0].abs().sum(0).numpy()  # noqa: E731 - an "explanation" of the input only
    res = cascading_randomisation(model, x, edge, counts=(1, 2))
    assert res.similarity == (pytest.approx(1.0), pytest.approx(1.0)) and res.flagged


@pytest.mark.parametrize(("sims", "verdict", "unchanged"), [
    ((0.14, -0.07, 0.49), "mixed", (8,)),  # the example: the last step re-correlates
    ((0.1, 0.05, 0.2), "passes", ()),
    ((0.9, 0.8, 0.6), "fails", (1, 4, 8)),
    ((0.9, 0.2, 0.1), "mixed", (1,)),
])
def test_sanity_verdict_uses_every_step(sims, verdict, unchanged) -> None:
    from vizcore.explain.sanity import FLAG_THRESHOLD, SanityResult

    res = SanityResult(np.zeros((4, 2, 2)), (1, 4, 8), ("a", "b", "c"), sims,
                       all(r >= FLAG_THRESHOLD for r in sims))
    assert res.verdict == verdict and res.unchanged_steps == unchanged
