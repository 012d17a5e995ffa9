"""AppTest of the Architectures compared page with untrained weights (no downloads): the history
table lists every registry model, the latency button times what is missing, the key-idea cards
show computed savings, and the comparison works for the offline default against an untrained model."""

from __future__ import annotations

import pytest
import torch

from models.registry import list_specs
from tests.apptest_utils import no_exceptions, open_page
from vizcore.architectures.latency import ArchStore, Latency, machine_label


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CNN_LENS_CACHE", str(tmp_path))
    return tmp_path


def _frame_text(at) -> str:
    return "\n".join(df.value.to_string() for df in at.dataframe)


def test_history_lists_every_model_and_times_the_missing_one(cache) -> None:
    store = ArchStore(cache)
    specs = list_specs()
    slow_to_time = [s for s in specs if s.name != "mobilenet_v3_large"]
    for s in slow_to_time:  # pre-timed, so the button has exactly one model left to measure
        shape = (1, getattr(s, "channels", 3), s.input_size, s.input_size)
        store.put_latency(s.name, shape, Latency((5.0,), torch.get_num_threads(), machine_label()))
    at = open_page("architectures")
    no_exceptions(at)
    text = _frame_text(at)
    for s in specs:
        assert s.display_name in text, s.display_name
    frame = at.dataframe[0].value.set_index("model")
    assert frame.loc["ResNet-50", "top-1 %"] == 80.858  # torchvision's acc@1 of the V2 weights
    assert frame.loc["VGG-16", "params (M)"] == pytest.approx(138.357544)
    (button,) = [b for b in at.button if b.key == "arch_measure"]
    assert "1 model not yet timed" in button.label
    button.click().run()
    no_exceptions(at)
    timed = ArchStore(cache).latency("mobilenet_v3_large", (1, 3, 224, 224))
    assert timed is not None and len(timed.runs_ms) == 5 and timed.median_ms > 0
    import json

    (chart,) = [c for c in at.get("plotly_chart")
                if any(t.get("customdata") for t in json.loads(c.proto.spec)["data"])]
    for trace in json.loads(chart.proto.spec)["data"]:  # after a click, names stay dark enough to read
        if trace.get("mode") == "markers+text":
            assert trace["unselected"]["textfont"]["color"] == "#444", trace["name"]
    assert [b.label for b in at.button if b.key == "arch_measure"] == ["⏱️ Measure all again"]
    row = at.dataframe[0].value.set_index("model").loc["MobileNetV3-Large"]
    assert row["latency ms"] == pytest.approx(round(timed.median_ms, 1))


def test_key_idea_cards_show_computed_savings(cache) -> None:
    at = open_page("architectures")
    at.segmented_control(key="arch_view").set_value("🧱 Key ideas").run()
    no_exceptions(at)
    at.segmented_control(key="arch_family").set_value("Inception").run()
    no_exceptions(at)
    md = "\n".join(m.value for m in at.markdown)
    assert "**7.2×**" in md and "**9.7×**" in md  # branch 3 at 3×3 and at the paper's 5×5
    assert "121,626,624 MACs" in "\n".join(c.value for c in at.caption)
    at.segmented_control(key="arch_family").set_value("DenseNet").run()
    no_exceptions(at)
    md = "\n".join(m.value for m in at.markdown)
    assert "cost **more**" in md and "concatenations" in md
    assert "_DenseBlock" in md  # the whole-model table follows
    at.segmented_control(key="arch_family").set_value("ResNet").run()
    at.radio(key="arch_block::ResNet").set_value("ResNet-50 bottleneck block").run()
    no_exceptions(at)
    assert "Bottleneck (1×1 → 3×3 → 1×1)" in "\n".join(m.value for m in at.markdown)


def test_compare_offline_default_with_an_untrained_model(cache) -> None:
    at = open_page("architectures")
    at.segmented_control(key="arch_view").set_value("🆚 Two models on one photo").run()
    no_exceptions(at)
    at.selectbox(key="arch_cmp_a").set_value("efficientnet_lite0")
    at.selectbox(key="arch_cmp_b").set_value("resnet18").run()
    no_exceptions(at)
    md = "\n".join(m.value for m in at.markdown)
    assert "### A: EfficientNet-Lite0" in md and "UNTRAINED" not in md.split("### B")[0]
    assert "### B: ResNet-18" in md
    errors = "\n".join(e.value for e in at.error)
    if "UNTRAINED" in md:  # no ResNet-18 weights on this machine (the usual offline case)
        assert "ResNet-18 is UNTRAINED" in errors
    assert "Correlation of the two maps" in md
    captions = [img.caption for el in at.get("image") for img in el.proto.imgs]
    assert sum("Grad-CAM at" in c for c in captions) == 2
    assert any(c.startswith("A − B") for c in captions)
    assert len(at.get("plotly_chart")) == 2  # the two top-5 charts
    at.radio(key="arch_cmp_target").set_value("the same class for both (A's top class)").run()
    no_exceptions(at)
    assert "Correlation of the two maps" in "\n".join(m.value for m in at.markdown)
