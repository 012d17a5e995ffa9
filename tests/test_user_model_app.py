"""AppTest: every page on user models registered like ``cnn-lens run --model NAME=FILE …`` does it:
a grayscale 28 px ONNX digit net (every page) and a 3-class ResNet-18 (the issue's pages)."""

from __future__ import annotations

import json

import pytest
import torch
import torchvision
from safetensors.torch import save_file

from app.shell.navigation import PAGES, page_file
from app.usermodel.registered import ENV, Entry, encode, from_env, load_all
from tests.apptest_utils import fresh_app, no_exceptions
from tests.test_user_model import SmallCNN, onnx_bytes

ISSUE_PAGES = ["predict", "explain", "filters", "feature_maps", "architecture", "receptive_field",
               "feature_vis", "lab"]


@pytest.fixture(scope="module")
def registered(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, str]]:
    """The ``$CNN_LENS_USER_MODELS`` value and display name → spec name."""
    d = tmp_path_factory.mktemp("user-models")
    torch.manual_seed(0)
    (d / "digits.onnx").write_bytes(onnx_bytes(SmallCNN(), (1, 1, 28, 28)))
    (d / "digits.txt").write_text("zero\none\ntwo\nthree\nfour\n")
    rn = torchvision.models.resnet18(num_classes=3)
    save_file({k: v.contiguous() for k, v in rn.state_dict().items()}, str(d / "pets.safetensors"))
    (d / "pets.json").write_text(json.dumps({"0": "cat", "1": "dog", "2": "owl"}))
    env = encode([Entry("digits5", str(d / "digits.onnx"), "onnx", str(d / "digits.txt")),
                  Entry("pets", str(d / "pets.safetensors"), "resnet18", str(d / "pets.json"),
                        input_size=64)])
    names = {m.spec.display_name: n for n, m in load_all(from_env(env)).items()}
    return env, names


def _open(monkeypatch: pytest.MonkeyPatch, env: str, name: str):
    monkeypatch.setenv(ENV, env)
    at = fresh_app(300).run()
    picker = at.selectbox(key="model_name")
    assert "📦 Your own model…" in picker.options and any(o.startswith("📦 ") for o in picker.options[:-1])
    picker.set_value(name).run()
    return at


def _visit(at, page: str):
    at.switch_page(page_file(page))
    at.run()
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    return at


def test_every_page_on_a_grayscale_onnx_model(monkeypatch: pytest.MonkeyPatch, registered, tmp_path) -> None:
    env, names = registered
    monkeypatch.setenv("CNN_LENS_CACHE", str(tmp_path))  # a fresh disk cache: Run really computes
    at = _open(monkeypatch, env, names["digits5"])
    for entry in PAGES:
        _visit(at, entry.url_path)
    at = _visit(at, "predict")
    said = at.main.markdown[0].value
    assert "**digits5** says **" in said
    assert any(f"**{w}**" in said for w in ("zero", "one", "two", "three", "four"))
    at = _visit(at, "explain")
    assert at.selectbox(key="explain_layer").value == "conv2/Conv"  # the last spatial conv, found by tracing
    at = _visit(at, "feature_vis")
    at.button(key="fv_run::unit").click().run()
    no_exceptions(at)
    images = at.main.get("image")
    assert images and any("objective" in c for c in images[0].captions), [c.value for c in at.main.caption]


def test_issue_pages_on_a_finetuned_resnet(monkeypatch: pytest.MonkeyPatch, registered) -> None:
    env, names = registered
    at = _open(monkeypatch, env, names["pets"])
    for page in ISSUE_PAGES:
        _visit(at, page)
        if page == "predict":
            said = at.main.markdown[0].value
            assert "**pets** says **" in said and any(f"**{w}**" in said for w in ("cat", "dog", "owl"))
        if page == "explain":
            assert at.selectbox(key="explain_layer").value == "layer4"


def test_your_own_model_entry_says_where_to_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    at = fresh_app(300).run()
    at.selectbox(key="model_name").set_value("__your_own_model__").run()
    no_exceptions(at)
    assert any("upload its weights in the sidebar" in i.value for i in at.info)
    assert at.sidebar.button(key="um_load").label == "Load model"
    at.sidebar.button(key="um_load").click().run()  # nothing uploaded yet: a clear message, no crash
    assert any("Choose a weights file first" in e.value for e in at.sidebar.error)


def test_nan_weights_warn_on_every_page(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    from models.lenet import LeNet5

    torch.manual_seed(0)
    sd = {k: v.contiguous() for k, v in LeNet5().state_dict().items()}
    sd["classifier.5.bias"][0] = float("inf")
    save_file(sd, str(tmp_path / "bad.safetensors"))
    env = encode([Entry("broken", str(tmp_path / "bad.safetensors"), "lenet5")])
    name = next(iter(load_all(from_env(env))))
    at = _open(monkeypatch, env, name)
    for page in ("predict", "filters", "architecture"):
        _visit(at, page)
        assert any("NaN or Inf" in w.value for w in at.warning), page


def test_your_model_side_by_side_with_a_registry_model(monkeypatch: pytest.MonkeyPatch, registered) -> None:
    """Architectures → Two models on one photo: your fine-tuned model (the sidebar's) is model A, its
    size is counted from the loaded weights, its top-5 names its own classes; "same class" with
    different class lists says why each map keeps its own top class."""
    env, names = registered
    at = _open(monkeypatch, env, names["pets"])
    at = _visit(at, "architectures")
    at.segmented_control(key="arch_view").set_value("🆚 Two models on one photo").run()
    no_exceptions(at)
    assert at.selectbox(key="arch_cmp_a").value == names["pets"]
    assert "📦 pets" in at.selectbox(key="arch_cmp_a").options
    at.selectbox(key="arch_cmp_b").set_value("efficientnet_lite0").run()
    no_exceptions(at)
    md = "\n".join(m.value for m in at.markdown)
    assert "### A: " in md and "pets" in md.split("### B")[0] and "### B: EfficientNet-Lite0" in md
    assert "your own model · 3 classes" in "\n".join(c.value for c in at.caption)
    params = sum(p.numel() for p in torchvision.models.resnet18(num_classes=3).parameters())
    assert params == 11_178_051  # 3-class head: fewer than ImageNet ResNet-18's 11.69 M
    values = [(m.label, m.value) for m in at.metric]
    assert values[0] == ("Parameters", "11.2 M") and values[4] == ("Parameters", "4.7 M"), values
    charts = at.get("plotly_chart")
    assert len(charts) == 2 and "Top-3 classes" in charts[0].proto.spec  # its own classes, not ImageNet
    at.radio(key="arch_cmp_target").set_value("the same class for both (A's top class)").run()
    no_exceptions(at)
    assert any("different classes" in i.value for i in at.info)
    assert "Correlation of the two maps" in "\n".join(m.value for m in at.markdown)
