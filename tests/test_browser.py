"""Real-browser end-to-end test: upload a photo in Chromium and see the top-5 chart."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_utils import open_app, shot, upload, wait_idle
from tests.conftest import photo_bytes

pytestmark = pytest.mark.browser


def test_direct_page_url_on_fresh_server_runs_through_main(app_url: str, browser) -> None:
    # First request of the server goes straight to a page URL: the shared sidebar must be there.
    page = open_app(browser, app_url, "explain")
    sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
    assert "Model" in sidebar and "upload a photo" in sidebar and "Sample photo" in sidebar
    assert "Choose an image in the sidebar" not in page.locator('[data-testid="stMain"]').inner_text()
    page.context.close()


def test_upload_shows_top5(app_url: str, browser, tmp_path: Path) -> None:
    photo = tmp_path / "coffee.jpg"
    photo.write_bytes(photo_bytes("coffee", "JPEG"))
    page = open_app(browser, app_url)
    upload(page, photo)
    page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=120_000)
    wait_idle(page)
    body = page.locator('[data-testid="stMain"]').inner_text()
    assert "espresso" in body
    assert "Traceback" not in body
    shot(page, "predict-coffee")
    page.context.close()


def test_bad_upload_shows_message(app_url: str, browser, tmp_path: Path) -> None:
    bad = tmp_path / "notes.png"
    bad.write_text("this is not an image")
    page = open_app(browser, app_url, width=1366, height=768)
    upload(page, bad)
    page.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"]').innerText"
                           ".includes('not an image we can read')", timeout=60_000)  # the rerun may lag
    wait_idle(page)
    # the previous image (the default sample) is kept and still classified
    assert "tabby" in page.locator('[data-testid="stMain"]').inner_text()
    shot(page, "predict-bad-upload")
    listed = page.locator('[data-testid="stSidebar"] [data-testid="stFileUploaderFile"]')
    # (the uploader may list the refused file; choosing a sample must leave it empty either way)
    # choosing a sample clears the uploader: the refused file is no longer listed, its message is gone
    page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Sample photo").click()
    page.keyboard.type("coffee")
    page.locator('[role="option"]').filter(has_text="coffee").first.click()
    wait_idle(page)
    page.wait_for_timeout(500)
    wait_idle(page)
    assert listed.count() == 0
    assert "not an image we can read" not in page.locator('[data-testid="stMain"]').inner_text()
    assert "espresso" in page.locator('[data-testid="stMain"]').inner_text()
    shot(page, "predict-sample-after-bad-upload")
    page.context.close()
