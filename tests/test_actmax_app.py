"""AppTest of the Feature visualisation page: one unit (live → disk-cache hit), atlas, exemplars."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.apptest_utils import no_exceptions, open_page


@pytest.fixture(autouse=True)
def _cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CNN_LENS_CACHE", str(tmp_path / "cache"))


def captions(at) -> str:
    """Text of every caption and every image caption on the page."""
    parts = [str(c.value) for c in at.caption]
    parts += [img.caption for el in at.get("image") for img in el.proto.imgs]
    return " ".join(parts)


def quick(at, **state: object):
    """Fewer steps / pixels than the default request, then rerun."""
    at.session_state["fv_steps::64"] = 16
    at.session_state["fv_size::128"] = 64
    for k, v in state.items():
        at.session_state[k] = v
    return at.run()


def test_default_visualisation_then_instant_cache_hit() -> None:
    at = open_page("feature_vis.py")
    no_exceptions(at)
    assert "_blocks" in captions(at) and "objective" in captions(at), captions(at)
    assert "128×128 px · 64 steps · seed 0 · in" in captions(at)
    assert at.get("plotly_chart"), "objective curve missing"
    at.run()
    no_exceptions(at)
    assert "from the disk cache" in captions(at)


def test_class_logit_and_diversity() -> None:
    at = quick(open_page("feature_vis.py"), fv_kind="Class logit", fv_div=2)
    no_exceptions(at)
    assert "2 different images" in captions(at)


def test_atlas_and_exemplars() -> None:
    at = quick(open_page("feature_vis.py"), fv_view="Layer atlas", fv_atlas_n=8)
    no_exceptions(at)
    assert "Layer atlas of" in captions(at) and "channels 0–7" in captions(at)
    at.session_state["fv_view"] = "Dataset exemplars"
    at.run()
    no_exceptions(at)
    text = captions(at)
    assert "4 photos ranked" in text and "RF patch" in text and "receptive field" in text
