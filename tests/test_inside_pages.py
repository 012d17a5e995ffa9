"""AppTest of the four "Inside the network" pages, with the offline model and with untrained
torchvision models (branching ones included)."""

from __future__ import annotations

import pytest

from app.shell.navigation import page_file
from app.shell.resources import MODEL_KEY, untrained_key
from tests.apptest_utils import fresh_app, no_exceptions


def _open(page: str, model: str | None = None):
    at = fresh_app().run()
    if model is not None:  # a torchvision model with random weights (none are on this machine)
        at.session_state[MODEL_KEY] = model
        at.session_state[untrained_key(model)] = True
    at.switch_page(page_file(page.removesuffix(".py")))
    return at.run()


def _text(at) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    return " ".join(parts)


def test_feature_maps_page_modes_and_channel() -> None:
    at = _open("feature_maps.py")
    no_exceptions(at)
    assert "channels" in _text(at) and "each map" in _text(at)
    assert at.get("plotly_chart"), "channel overlay missing"
    assert len(at.get("image")) >= 4, "overview strip missing"
    for norm in ("per layer", "global"):
        at.radio(key="fm_norm").set_value(norm).run()
        no_exceptions(at)
    at.selectbox(key="fm_sort").set_value("max").run()
    number = at.number_input[0]
    number.set_value(3).run()
    no_exceptions(at)
    assert "Channel 3:" in _text(at)


def test_filters_page_views() -> None:
    at = _open("filters.py")
    no_exceptions(at)
    assert "32 filters of 3×3×3" in _text(at)
    assert len(at.get("plotly_chart")) >= 4  # norms + R, G, B numbers
    at.radio(key="flt_sort").set_value("norm").run()
    layer_box = at.selectbox(key="flt_layer::efficientnet_lite0")
    layer_box.set_value("_blocks.5._project_conv").run()
    no_exceptions(at)
    assert "filters of 240×1×1" in _text(at)
    at.radio(key="flt_view").set_value("norms").run()
    no_exceptions(at)


def test_architecture_page_totals() -> None:
    at = _open("architecture.py")
    no_exceptions(at)
    values = [m.value for m in at.metric]
    assert "4.65 M" in values and "0.39 G" in values
    assert at.dataframe, "table missing"
    at.text_input(key="arch_query").set_value("depthwise").run()
    no_exceptions(at)
    assert len(at.dataframe[0].value) == 16


def test_receptive_field_page() -> None:
    at = _open("receptive_field.py")
    no_exceptions(at)
    assert "Theoretical receptive field" in _text(at) and "jump" in _text(at)
    at.radio(key="rf_mode").set_value("one channel").run()
    no_exceptions(at)
    assert "channel 0 shown" in _text(at)


@pytest.mark.parametrize(("page", "model"), [
    ("feature_maps.py", "googlenet"), ("receptive_field.py", "densenet121"),
    ("architecture.py", "convnext_tiny"), ("filters.py", "resnet18"),
])
def test_pages_with_untrained_models(page: str, model: str) -> None:
    at = _open(page, model)
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    if page == "architecture.py":  # weights do not matter for the table
        assert "ConvNeXt-Tiny (2022)" in _text(at) and "28.59 M" in [m.value for m in at.metric]
    else:
        assert any("UNTRAINED" in w.value for w in at.warning)


def test_the_layer_trace_is_computed_once_per_shared_model(monkeypatch, chelsea) -> None:
    from app.inside import tasks as inside_tasks
    from models.registry import load_model

    loaded = load_model("resnet18", trained=False)  # a fresh shared-model object: empty memo
    calls = []
    real = inside_tasks.trace_model
    monkeypatch.setattr(inside_tasks, "trace_model", lambda *a, **k: calls.append(1) or real(*a, **k))
    fm = inside_tasks.maps(loaded, chelsea, layer="layer1.0.bn1")
    lo, hi = inside_tasks.global_range(loaded, chelsea)
    inside_tasks.arch_table(loaded, None)
    assert len(calls) == 1
    assert lo <= fm.layer_range[0] and hi >= fm.layer_range[1]
