"""Real browser: teach the network two classes with Chromium's fake webcam and uploads, train,
open a confusion-matrix cell, use the model on Predict; screenshots at 1366×768 and 1920×1080."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from tests.browser_utils import shot, wait_idle
from tests.conftest import launch_chromium
from vizcore.transfer import demo_set

pytestmark = pytest.mark.browser
FAKE_CAMERA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


@pytest.fixture(scope="module")
def camera_browser(playwright_driver):
    """Chromium with a fake camera (a generated test pattern); permission is granted per context."""
    b = launch_chromium(playwright_driver, *FAKE_CAMERA)
    try:
        yield b
    finally:
        b.close()


def _open(browser, url: str, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height}, permissions=["camera"])
    page = context.new_page()
    page.goto(f"{url}/transfer", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stElementContainer"]', timeout=120_000)
    wait_idle(page)
    return page


def _add_class(page, name: str) -> None:
    box = page.get_by_label("New class name")
    box.fill(name)
    box.press("Enter")
    wait_idle(page)
    page.get_by_text(name, exact=False).first.wait_for()


def test_webcam_uploads_train_and_use(app_url: str, camera_browser, tmp_path: Path) -> None:
    page = _open(camera_browser, app_url, 1366, 768)
    _add_class(page, "camera")
    _add_class(page, "shapes")
    main = page.locator('[data-testid="stMain"]')
    main.get_by_text("Webcam snapshots").first.click()  # the first class panel: "camera"
    wait_idle(page)
    for n in range(1, 4):  # several snapshots in a row: each one is added and the camera is ready again
        button = main.get_by_role("button", name="Take Photo")
        button.wait_for(timeout=60_000)
        page.wait_for_function("() => [...document.querySelectorAll('video')]"
                               ".some(v => v.readyState >= 2 && v.videoWidth > 0)", timeout=60_000)
        page.wait_for_timeout(300)  # the fake stream is playing: one more frame
        button.click()
        wait_idle(page)
        page.get_by_text(f"camera — {n} image").wait_for(timeout=60_000)
    files = []
    for i, img in enumerate(demo_set(2, seed=5)["stripes"] + demo_set(2, seed=6)["circles"]):
        path = tmp_path / f"shape{i}.png"
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        path.write_bytes(buf.getvalue())
        files.append(str(path))
    main.locator('[data-testid="stFileUploaderDropzoneInput"]').last.set_input_files(files)  # "shapes"
    page.wait_for_timeout(500)
    wait_idle(page)
    page.get_by_text("shapes — 4 images").wait_for(timeout=60_000)
    shot(page, "transfer-classes-1366")
    page.get_by_role("button", name="Train", exact=True).click()
    wait_idle(page, 300_000)
    metric = page.locator('[data-testid="stMetricValue"]').first.inner_text()
    assert metric.endswith("%")
    assert "Traceback" not in main.inner_text()
    page.locator('[data-testid="stMain"] button').filter(has_text="1").first.click()
    wait_idle(page)
    assert "true “" in main.inner_text()
    shot(page, "transfer-results-1366", full_page=True)
    page.get_by_role("button", name="Use this model on every page").click()
    wait_idle(page)
    assert "Now using" in main.inner_text()
    page.get_by_role("link", name="Predict").first.click()
    wait_idle(page, 120_000)
    page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=120_000)
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "camera" in text or "shapes" in text
    shot(page, "transfer-predict-1366")
    page.context.close()


def test_page_fits_at_1920(app_url: str, camera_browser) -> None:
    page = _open(camera_browser, app_url, 1920, 1080)
    page.get_by_role("button", name="Load the demo set (circles · squares · stripes)").click()
    wait_idle(page)
    widths = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMain"] img')]
        .map(i => i.getBoundingClientRect().right)""")
    assert widths and max(widths) <= 1920
    shot(page, "transfer-demo-1920")
    page.context.close()
