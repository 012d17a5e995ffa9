"""Real-browser test of the Adversarial page (Playwright + Debian Chromium) at 1366×768 and 1920×1080:
run an FGSM attack from the form, switch the ε sweep and a defence on, download the PNG and check the
downloaded file still fools the model after reloading it through the app's loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_utils import shot, wait_idle
from vizcore.adversarial import Normalised
from vizcore.adversarial.export import pixels_of
from vizcore.core.images import load_image

pytestmark = pytest.mark.browser
SIZES = [(1366, 768), (1920, 1080)]
TABBY = 281


def open_slowly(browser, url: str, *, width: int, height: int):
    """``browser_utils.open_app`` with patient timeouts (a fresh server on a busy 2-core machine)."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded", timeout=300_000)
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stElementContainer"]', timeout=600_000)
    wait_idle(page, 600_000)
    return page


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


def wait_for_text(page, text: str, timeout: float = 600_000) -> None:
    page.wait_for_function(
        "t => document.querySelector('[data-testid=\"stMain\"]').innerText.includes(t)", arg=text,
        timeout=timeout)
    wait_idle(page, timeout)


def toggle(page, label: str) -> None:
    page.locator('[data-testid="stMain"] [data-testid="stCheckbox"]', has_text=label).first.click()
    wait_idle(page, 600_000)


def check_pictures_fit(page, width: int) -> None:
    """The three pictures of the first row are side by side, inside the window, and not tiny."""
    boxes = [img.bounding_box() for img in page.locator('[data-testid="stMain"] [data-testid="stImage"] img')
             .all()[:3]]
    assert len(boxes) == 3 and all(b is not None for b in boxes)
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= width + 1 for b in boxes), boxes
    assert all(b["width"] >= 200 for b in boxes), boxes
    assert boxes[0]["x"] < boxes[1]["x"] < boxes[2]["x"], boxes


@pytest.mark.timeout(1800)  # the first PGD + Grad-CAMs on a fresh server; slow only on a crowded machine
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_adversarial_attack_sweep_defence_download(app_url: str, browser, lite0, size) -> None:
    width, height = size
    page = open_slowly(browser, app_url, width=width, height=height)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Adversarial").first.click()
    wait_for_text(page, "Adversarial: ")
    assert "fooled ✓" in main_text(page) and "Traceback" not in main_text(page)
    check_pictures_fit(page, width)
    shot(page, f"adversarial-{width}x{height}-first-view")
    # attack: FGSM through the form
    page.get_by_text("FGSM (one step)", exact=True).click()
    page.get_by_role("button", name="Run attack").click()
    wait_for_text(page, "FGSM (one step) took 1 step")
    # ε sweep
    toggle(page, "Run the ε sweep")
    wait_for_text(page, "for all 8 budgets")
    assert page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').count() == 2
    page.get_by_text("ε sweep: how large").scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    shot(page, f"adversarial-{width}x{height}-sweep")
    # one more defence (JPEG is on by default)
    toggle(page, "Median filter")
    wait_for_text(page, "Median filter (3×3)")
    table = page.locator('[data-testid="stMain"] [data-testid="stTable"]').last
    assert "JPEG re-compression (quality 75)" in table.inner_text()
    table.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    shot(page, f"adversarial-{width}x{height}-defences")
    # download: the file reloads through the app's loader and still fools the model
    button = page.get_by_role("button", name="Download 8-bit PNG")
    button.scroll_into_view_if_needed()
    with page.expect_download(timeout=120_000) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "adversarial-fgsm-eps2.png"
    data = Path(download.path()).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    spec = lite0.spec
    x = pixels_of(load_image(data).image, spec)
    assert int(Normalised(lite0.model, spec.mean, spec.std)(x).argmax()) != TABBY
    shot(page, f"adversarial-{width}x{height}-download")
    page.context.close()
