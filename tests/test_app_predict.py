"""AppTest of the Predict page: samples, uploads, hostile files, missing weights."""

from __future__ import annotations

import urllib.error
from pathlib import Path

import pytest
import torch

from app.shell.navigation import page_file
from tests.apptest_utils import fresh_app, no_exceptions
from tests.conftest import photo_bytes


def main_text(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_default_sample_is_classified_as_cat() -> None:
    at = fresh_app().run()
    no_exceptions(at)
    assert "tabby" in main_text(at) or "Egyptian cat" in main_text(at)
    assert at.get("plotly_chart"), "top-5 chart missing"


# AppTest drops the sidebar tree after a rerun of an st.navigation app, so each upload gets a fresh app.
def test_upload_photo_shows_right_class() -> None:
    at = fresh_app().run()
    at.sidebar.file_uploader[0].upload("coffee.jpg", photo_bytes("coffee", "JPEG"), "image/jpeg").run()
    no_exceptions(at)
    assert "espresso" in main_text(at)


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("evil.png", b"not an image at all", "not an image we can read"),
    ("empty.jpg", b"", "empty"),
    ("dot.png", None, "only 1×1"),
])
def test_bad_upload_shows_message_and_keeps_previous_image(name: str, data: bytes | None,
                                                          reason: str) -> None:
    if data is None:
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.new("RGB", (1, 1)).save(buf, format="PNG")
        data = buf.getvalue()
    at = fresh_app().run()
    at.sidebar.file_uploader[0].upload(name, data, "image/png").run()
    no_exceptions(at)
    errors = " ".join(e.value for e in at.error)
    assert name in errors and reason in errors
    assert "tabby" in main_text(at)  # nothing the user had is lost


@pytest.mark.parametrize("page", ["filters.py", "architecture.py", "feature_vis.py"])
def test_refused_upload_is_explained_on_pages_that_do_not_use_the_photo(page: str) -> None:
    at = fresh_app().run()
    at.sidebar.file_uploader[0].upload("notes.png", b"plain text", "image/png").run()
    at.switch_page(page_file(page.removesuffix(".py")))
    at.run()
    no_exceptions(at)
    errors = " ".join(e.value for e in at.error)
    assert "notes.png" in errors and "previous image is still in use" in errors


def test_sample_picker_switches_image() -> None:
    at = fresh_app().run()
    at.selectbox(key="sample").set_value("coffee").run()
    no_exceptions(at)
    assert "espresso" in main_text(at)


def test_missing_weights_offer_untrained_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_a: object, **_k: object) -> None:
        raise urllib.error.URLError("offline")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    at = fresh_app().run()
    at.selectbox(key="model_name").set_value("resnet18").run()
    no_exceptions(at)
    errors = " ".join(e.value for e in at.error)
    assert "resnet18-f37072fd.pth" in errors and str(tmp_path) in errors
    at.button(key="go-untrained-resnet18").click().run()
    no_exceptions(at)
    assert any("UNTRAINED" in w.value for w in at.warning)
    assert "UNTRAINED model" in str(at.get("plotly_chart")[0].proto.spec)
