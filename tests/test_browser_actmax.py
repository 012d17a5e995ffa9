"""Real-browser test of the Feature visualisation page: nothing computes until Run; Cancel stops a
run; Run again finishes and shows the picture — at 1366×768 and 1920×1080."""

from __future__ import annotations

import pytest

from tests.browser_utils import open_app, shot, wait_idle

pytestmark = pytest.mark.browser


def smallest_job(page) -> None:
    """Advanced: steps and image size to their minimum (16 steps, 64 px) with the keyboard."""
    page.locator('[data-testid="stExpander"] summary', has_text="Advanced").click()
    ranges = page.locator('[data-testid="stExpanderDetails"] input[type="range"]')
    ranges.first.wait_for(state="attached", timeout=10_000)
    for i in (0, 1):  # Steps → 16, Image size → 64 (react-aria sliders: Home = minimum)
        ranges.nth(i).press("Home")
        wait_idle(page)
    page.wait_for_function("() => document.body.innerText.includes('16 steps')", timeout=60_000)


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080)])
def test_run_cancel_run(app_url: str, browser, width: int, height: int) -> None:
    page = open_app(browser, app_url, width=width, height=height)
    page.get_by_role("link", name="Feature visualisation").click()
    page.wait_for_selector('text=Press Run', timeout=180_000)
    wait_idle(page, 180_000)
    main = page.locator('[data-testid="stMain"]')
    smallest_job(page)
    seed = page.get_by_label("Seed")
    seed.fill(str(width))  # a seed no other test used: not in the disk cache
    seed.press("Enter")
    wait_idle(page, 180_000)
    text = main.inner_text()
    assert "Press Run" in text and "objective" not in text and "Traceback" not in text
    run = page.get_by_role("button", name="▶ Run")
    box = run.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= width, box

    run.click()
    cancel = page.get_by_role("button", name="⏹ Cancel")
    cancel.wait_for(timeout=60_000)
    shot(page, f"feature-vis-running-{width}")
    cancel.click()
    page.wait_for_selector("text=Cancelled", timeout=120_000)
    wait_idle(page, 120_000)
    assert "objective" not in main.inner_text()

    page.get_by_role("button", name="▶ Run").click()
    page.wait_for_function(  # the finished picture's caption: "<size>×<size> px · 16 steps · seed N"
        f"() => / px · 16 steps · seed {width}/.test(document.body.innerText)", timeout=300_000)
    wait_idle(page, 180_000)
    text = main.inner_text()
    assert "Traceback" not in text and "Cancel" not in text
    assert main.locator('[data-testid="stImage"] img').count() >= 1
    assert main.locator('[data-testid="stPlotlyChart"]').count() == 1
    shot(page, f"feature-vis-{width}")
    page.context.close()
