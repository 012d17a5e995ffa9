"""vizcore.transfer: the head separates generated classes, fine-tuning touches only the chosen blocks,
the shared model is never changed, results are deterministic, the export reloads identically."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from models.registry import LoadedModel
from tests.conftest import assert_clean
from vizcore.core.preprocess import to_input
from vizcore.transfer import confusion_matrix, demo_set, fit, pca2
from vizcore.transfer.data import augment, stratified_split
from vizcore.transfer.finetune import block_units
from vizcore.transfer.head import embeddings, find_head


@pytest.fixture(scope="module")
def demo() -> dict:
    return demo_set(6, seed=1)


@pytest.fixture(scope="module")
def head_result(lite0: LoadedModel, demo: dict):
    before = {k: v.clone() for k, v in lite0.model.state_dict().items()}
    result = fit(lite0, demo, strategy="head", augment=False, seed=0)
    after = lite0.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the shared model changed"
    return result


def test_head_separates_generated_classes(head_result, lite0: LoadedModel) -> None:
    assert head_result.val_accuracy >= 0.9
    assert head_result.model.spec.categories == ("circles", "squares", "stripes")
    assert head_result.model.model is not lite0.model
    assert_clean(lite0.model)
    assert_clean(head_result.model.model)
    t = head_result.trained
    assert t.trained_units == ("_fc",) and t.history and 1 <= t.best_epoch <= len(t.history)
    assert t.embed_before.shape == (18, 2) and t.embed_after.shape == (18, 2)


def test_trained_model_predicts_new_classes_on_fresh_pictures(head_result) -> None:
    fresh = demo_set(3, seed=7)
    m = head_result.model
    right = sum(int(m.model(to_input(img, m.spec)).argmax()) == k
                for k, imgs in enumerate(fresh.values()) for img in imgs)
    assert right >= 8  # of 9


def test_confusion_matches_a_hand_count(head_result) -> None:
    t = head_result.trained
    val = list(t.split.val)
    hand = np.zeros((3, 3), dtype=int)
    for v, pred in zip(val, t.val_predictions, strict=True):
        hand[t.labels[v], pred] += 1
    np.testing.assert_array_equal(t.confusion, hand)
    assert hand.sum() == len(val) == 6  # round(6 × 0.25) = 2 per class
    np.testing.assert_array_equal(confusion_matrix(np.array([0, 0, 1, 2]), np.array([0, 1, 1, 0]), 3),
                                  [[1, 1, 0], [0, 1, 0], [1, 0, 0]])


def test_same_seed_same_model(lite0: LoadedModel, demo: dict, head_result) -> None:
    again = fit(lite0, demo, strategy="head", augment=False, seed=0)
    a, b = head_result.model.model.state_dict(), again.model.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


class Tiny(nn.Module):
    """A 3-block CNN small enough to fine-tune in a test."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1), nn.ReLU()),
            nn.Sequential(nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


def tiny_loaded(lite0: LoadedModel) -> LoadedModel:
    import dataclasses

    torch.manual_seed(0)
    model = Tiny().eval().requires_grad_(False)
    spec = dataclasses.replace(lite0.spec, name="tiny", input_size=32, resize_size=32,
                               default_layer="features.2")
    return LoadedModel(spec=spec, model=model, trained=True, device=torch.device("cpu"))


def test_block_units_and_head() -> None:
    assert find_head(Tiny())[0] == "fc"
    assert block_units(Tiny()) == ["features.0", "features.1", "features.2"]


def test_finetune_changes_only_the_chosen_blocks(lite0: LoadedModel, demo: dict) -> None:
    tiny = tiny_loaded(lite0)
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    res = fit(tiny, demo, strategy="finetune", train_blocks=1, epochs=3, seed=0)
    assert res.trained.trained_units == ("features.2", "fc")
    new = res.model.model.state_dict()
    changed = {k.rsplit(".", 1)[0] for k in before if k in new and new[k].shape == before[k].shape
               and not torch.equal(new[k], before[k])}
    assert changed and all(c.startswith("features.2") for c in changed), changed
    # BatchNorm statistics stay those of the pretrained model (eval-mode training)
    assert torch.equal(new["features.2.1.running_mean"], before["features.2.1.running_mean"])
    assert new["fc.weight"].shape == (3, 8)
    assert all(torch.equal(before[k], v) for k, v in tiny.model.state_dict().items())
    assert_clean(tiny.model)
    assert_clean(res.model.model)


def test_finetune_on_lite0_runs_and_keeps_the_shared_model(lite0: LoadedModel, demo: dict) -> None:
    res = fit(lite0, demo, strategy="finetune", train_blocks=1, epochs=1, seed=0)
    assert res.trained.trained_units == ("_bn1", "_fc")
    assert len(res.history) == 1
    assert_clean(lite0.model)


def test_bad_sets_are_refused_and_leave_the_model_clean(lite0: LoadedModel, demo: dict) -> None:
    with pytest.raises(ValueError, match="2 to 10 classes"):
        fit(lite0, {"one": demo["circles"]})
    with pytest.raises(ValueError, match="at least 2 images"):
        fit(lite0, {"a": demo["circles"], "b": demo["squares"][:1]})
    with pytest.raises(ValueError, match="strategy"):
        fit(lite0, demo, strategy="bogus")  # type: ignore[arg-type]
    assert_clean(lite0.model)


def test_split_is_stratified_and_seeded() -> None:
    labels = np.array([0] * 8 + [1] * 4 + [2] * 2)
    s = stratified_split(labels, 0.25, seed=3)
    assert set(s.train).isdisjoint(s.val) and len(s.train) + len(s.val) == 14
    assert [int((labels[list(s.val)] == c).sum()) for c in range(3)] == [2, 1, 1]
    assert s == stratified_split(labels, 0.25, seed=3)


def test_augment_is_seeded_and_stays_in_range() -> None:
    x = torch.rand(4, 3, 32, 32)
    a = augment(x, torch.Generator().manual_seed(0))
    b = augment(x, torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.shape == x.shape and float(a.min()) >= 0 and float(a.max()) <= 1
    assert not torch.equal(a, x)


def test_embeddings_are_the_classifier_input(lite0: LoadedModel, chelsea) -> None:
    x = to_input(chelsea.image, lite0.spec)
    feats = embeddings(lite0.model, x)
    with torch.inference_mode():
        logits = lite0.model(x)
    fc = lite0.model._fc
    torch.testing.assert_close(fc(feats), logits, rtol=1e-5, atol=1e-4)
    assert_clean(lite0.model)


def test_pca_matches_numpy_svd() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 6)) * np.array([5, 3, 1, 1, 1, 1])
    p = pca2(x)
    xc = x - x.mean(0)
    _, s, _ = np.linalg.svd(xc, full_matrices=False)
    np.testing.assert_allclose(np.linalg.norm(p, axis=0), s[:2], rtol=1e-5)


class _Spy(nn.Module):
    """Records the spatial size of every input it sees."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.sizes = inner, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(x.shape[-2:]))
        return self.inner(x)


def _stem_and_blocks(skip_from_input: bool = False) -> nn.Module:
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = _Spy(nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.ReLU(inplace=True)))
            self.block = nn.Sequential(nn.ReLU(inplace=True), nn.Conv2d(8, 8, 3, 1, 1))  # changes its input
            self.pool, self.fc = nn.AdaptiveAvgPool2d(1), nn.Linear(8, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.fc(self.pool(self.block(self.stem(x))).flatten(1))
            return y + x.mean() if skip_from_input else y  # a forward that uses its input again

    torch.manual_seed(0)
    return Net().eval()


def test_validation_replay_runs_only_the_trainable_end() -> None:
    from vizcore.transfer.replay import STAND_IN, Replay

    net, x = _stem_and_blocks(), torch.rand(5, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    val = Replay(net, "block", x)
    with torch.no_grad():
        assert torch.equal(val(), net(x)) and val.replaying
        for step in range(3):  # training changes the trainable end: the replay follows it
            net.block[1].weight.add_(0.05 * (step + 1))
            net.fc.bias.sub_(0.1)
            assert torch.allclose(val(), net(x), atol=1e-6)
    # full images: the replay's first forward + this test's 4 reference forwards; every other pass of
    # the frozen stem (the first replay's check + 3 replays) ran on the small stand-in
    assert net.stem.sizes.count((96, 96)) == 1 + 4 and net.stem.sizes.count((STAND_IN, STAND_IN)) == 1 + 3
    assert not net.block._forward_pre_hooks  # no hook left behind


def test_validation_replay_falls_back_when_the_forward_reuses_its_input() -> None:
    from vizcore.transfer.replay import Replay

    net, x = _stem_and_blocks(skip_from_input=True), torch.rand(2, 3, 96, 96)
    val = Replay(net, "block", x)
    with torch.no_grad():
        val()
        net.fc.bias.add_(1.0)
        assert not val.replaying and torch.allclose(val(), net(x))
