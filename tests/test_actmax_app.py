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


def press(at, label: str):
    """Press the button whose label contains ``label``, then rerun."""
    return next(b for b in at.button if label in b.label).click().run()


def test_nothing_computes_until_run_then_instant_cache_hit() -> None:
    at = quick(open_page("feature_vis.py"))
    no_exceptions(at)
    assert "objective" not in captions(at)  # typing numbers computes nothing
    assert any("Press **Run**" in str(i.value) for i in at.info)
    at = press(at, "Run")
    no_exceptions(at)
    assert "_blocks" in captions(at) and "objective" in captions(at), captions(at)
    assert "64×64 px · 16 steps · seed 0 · in" in captions(at)
    assert at.get("plotly_chart"), "objective curve missing"
    assert not any("Cancel" in b.label for b in at.button), "Cancel must go once the run is done"
    at.run()
    no_exceptions(at)
    assert "from the disk cache" in captions(at)
    at.session_state["fv_seed"] = 5  # new settings: no compute until Run again
    at.run()
    assert "objective" not in captions(at) and any("Run" in b.label for b in at.button)


def test_job_over_the_budget_names_the_cli_command() -> None:
    at = open_page("feature_vis.py")
    at.session_state["fv_view"] = "Layer atlas"
    at.session_state["fv_atlas_n"] = 64
    at.session_state["fv_steps::64"] = 512
    at.session_state["fv_size::128"] = 288
    at.run()
    no_exceptions(at)
    text = " ".join(str(w.value) for w in at.warning)
    assert "more work than one click" in text and "cnn-lens atlas --model efficientnet_lite0" in text
    assert "--steps 512 --size 288" in text
    assert not any("Run" in b.label for b in at.button)


def test_unwritable_cache_still_shows_the_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("CNN_LENS_CACHE", str(blocker))
    at = quick(open_page("feature_vis.py"))
    at = press(at, "Run")
    no_exceptions(at)
    assert "objective" in captions(at)
    text = " ".join(str(w.value) for w in at.warning)
    assert "Results will not be kept" in text and "not writable" in text, text


def test_class_logit_and_diversity() -> None:
    at = quick(open_page("feature_vis.py"), fv_kind="Class logit", fv_div=2)
    at = press(at, "Run")
    no_exceptions(at)
    assert "2 different images" in captions(at)


def test_atlas_and_exemplars() -> None:
    at = quick(open_page("feature_vis.py"), fv_view="Layer atlas", fv_atlas_n=8)
    at = press(at, "Run")
    no_exceptions(at)
    assert "Layer atlas of" in captions(at) and "channels 0–7" in captions(at)
    at.session_state["fv_view"] = "Dataset exemplars"
    at.run()
    no_exceptions(at)
    text = captions(at)
    assert "4 photos ranked" in text and "RF patch" in text and "receptive field" in text
