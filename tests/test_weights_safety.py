"""Weight files are data (issue 13, finding 1): a planted pickle never runs, a replaced file fails
its hash check, a wrong-keys file is refused — each as ``WeightsUnavailable`` with the reason, through
the registry and on the page."""

from __future__ import annotations

import dataclasses
import urllib.error
from pathlib import Path

import pytest
import torch

from models import weights
from models.registry import WeightsUnavailable, get_spec, load_model
from tests.apptest_utils import fresh_app, no_exceptions


class Payload:
    """Unpickling this would create ``marker`` (what a hostile checkpoint could do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (self.marker, "w"))


def _no_network(*_a: object, **_k: object) -> None:
    raise urllib.error.URLError("no network in tests")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    d = tmp_path / "torch" / "hub" / "checkpoints"
    d.mkdir(parents=True)
    return d


def plant_hostile(path: Path, marker: Path) -> None:
    torch.save({"conv1.weight": torch.zeros(1), "evil": Payload(marker)}, path)


def test_planted_pickle_at_the_torchvision_name_is_refused_by_its_hash(hub: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    plant_hostile(hub / "resnet18-f37072fd.pth", marker)
    with pytest.raises(WeightsUnavailable) as info:
        load_model("resnet18")
    assert "SHA-256" in info.value.reason and "f37072fd" in info.value.reason
    assert not marker.exists()


def test_planted_pickle_is_never_executed_even_with_a_matching_hash(
    hub: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """weights_only=True is the second wall: pretend the hash matched."""
    marker = tmp_path / "pwned"
    path = hub / "resnet18-f37072fd.pth"
    plant_hostile(path, marker)
    monkeypatch.setattr(weights, "file_sha256", lambda _p: "f37072fd" + "0" * 56)
    with pytest.raises(WeightsUnavailable, match="refused, nothing was executed"):
        load_model("resnet18")
    assert not marker.exists()


def test_planted_pickle_in_the_packaged_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "efficientnet-lite0-57934424.pth"
    plant_hostile(path, marker)
    monkeypatch.setattr(weights.PackagedFile, "path", lambda _self: path)
    with pytest.raises(WeightsUnavailable, match="not a plain tensor checkpoint"):
        load_model("efficientnet_lite0")
    assert not marker.exists()


def test_wrong_keys_file_is_refused_with_the_differences(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "efficientnet-lite0-57934424.pth"
    sd = load_model("efficientnet_lite0", trained=False).model.state_dict()
    sd["extra.weight"] = torch.zeros(2)
    del sd["_fc.bias"]
    sd["_conv_stem.weight"] = torch.zeros(3)
    torch.save(sd, path)
    monkeypatch.setattr(weights.PackagedFile, "path", lambda _self: path)
    with pytest.raises(WeightsUnavailable) as info:
        load_model("efficientnet_lite0")
    reason = info.value.reason
    assert "missing _fc.bias" in reason and "unexpected extra.weight" in reason
    assert "wrong shape _conv_stem.weight" in reason


def test_replaced_file_fails_the_hash_check(hub: Path) -> None:
    good = load_model("resnet18", trained=False).model.state_dict()
    torch.save(good, hub / "resnet18-f37072fd.pth")
    with pytest.raises(WeightsUnavailable, match="corrupt or was replaced"):
        load_model("resnet18")


def test_truncated_file_is_refused(tmp_path: Path) -> None:
    sd = {"w": torch.arange(1000.0)}
    path = tmp_path / "x.pth"
    torch.save(sd, path)
    path.write_bytes(path.read_bytes()[:300])
    src = dataclasses.replace(get_spec("resnet18").weights, url="https://example.invalid/x.pth")
    with pytest.raises(WeightsUnavailable, match="corrupt or truncated"):
        src.load_state_dict(cache_dir=tmp_path)


def test_file_matching_its_hash_loads(tmp_path: Path) -> None:
    """The positive case: a tensor-only file whose SHA-256 matches the prefix in its name."""
    ref = load_model("resnet18", trained=False).model.state_dict()
    ref = {k: v + 0.25 if v.is_floating_point() else v for k, v in ref.items()}
    tmp = tmp_path / "tmp.pth"
    torch.save(ref, tmp)
    name = f"resnet18-{weights.file_sha256(tmp)[:8]}.pth"
    tmp.rename(tmp_path / name)
    src = dataclasses.replace(get_spec("resnet18").weights, url=f"https://download.pytorch.org/models/{name}")
    model = load_model("resnet18", trained=False).model
    weights.apply_weights(model, src, tmp_path)
    got = model.state_dict()
    assert all(torch.equal(got[k], ref[k]) for k in ref)


def test_page_says_why_and_offers_untrained(hub: Path, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    plant_hostile(hub / "resnet18-f37072fd.pth", marker)
    at = fresh_app()
    at.session_state["model_name"] = "resnet18"
    at.run()
    no_exceptions(at)
    text = " ".join(str(e.value) for e in at.error)
    plain = text.replace("\\", "")  # markdown escapes may vary; the facts must be there
    assert "cannot be used" in text and "SHA-256" in plain and "resnet18-f37072fd" in plain, text
    assert "Traceback" not in text
    assert any("untrained" in b.label for b in at.button)
    assert not marker.exists()
