"""Real-browser test of the Classroom lab: step forward and back in the browser, screenshot mid-way."""

from __future__ import annotations

import pytest

from tests.browser_utils import IDLE, open_app, shot, wait_idle

pytestmark = pytest.mark.browser


def test_lab_steps_forward_and_back_in_the_browser(app_url: str, browser) -> None:  # noqa: ANN001
    page = open_app(browser, app_url, width=1600, height=1100)
    page.get_by_role("link", name="Convolution lab").click()
    wait_idle(page)
    page.wait_for_selector("iframe", timeout=120_000)
    wait_idle(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "Real learned filter" in main and "Traceback" not in main
    player = page.frame_locator("iframe").first
    pos = player.locator("#pos")
    pos.wait_for(timeout=60_000)
    for _ in range(14):
        player.locator("#next").click()
    player.locator("#prev").click()
    player.locator("#prev").click()
    assert pos.inner_text() == "step 13 / 36"
    player.locator("body").press("ArrowRight")  # keyboard stepping
    assert pos.inner_text() == "step 14 / 36"
    title = player.locator(".gtitle").text_content() or ""
    assert title.startswith("step 14/36 · output[2, 1]") and "bias" in title
    # stepping happened in the browser: the Streamlit script did not rerun
    assert page.locator(IDLE).count() == 1
    player.locator("#play").click()
    page.wait_for_timeout(1200)
    player.locator("#play").click()  # pause
    assert int(pos.inner_text().split()[1]) > 14
    player.locator("#prev").click()
    page.wait_for_timeout(300)
    shot(page, "lab-mid-animation", full_page=True)
    page.context.close()
