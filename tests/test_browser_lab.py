"""Real-browser test of the Classroom lab: step forward and back in the browser, screenshot mid-way."""

from __future__ import annotations

import pytest

from tests.browser_utils import IDLE, open_app, shot, wait_idle

pytestmark = pytest.mark.browser


def test_lab_steps_forward_and_back_in_the_browser(app_url: str, browser) -> None:
    page = open_app(browser, app_url, width=1600, height=1100)
    page.get_by_role("link", name="Convolution lab").click()
    wait_idle(page)
    page.wait_for_selector("iframe[srcdoc]", timeout=120_000)
    wait_idle(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "Real learned filter" in main and "Traceback" not in main
    # choose the region by clicking the photo (top-left corner): the page recomputes, no error
    before = page.frame_locator("iframe[srcdoc]").first.locator(".gtitle").text_content()
    page.frame_locator('iframe[title*="streamlit_image_coordinates"]').locator("img").click(
        position={"x": 25, "y": 25})
    player = page.frame_locator("iframe[srcdoc]").first
    title = before
    for _ in range(120):  # the click reruns the script once; wait for the new animation
        page.wait_for_timeout(500)
        if page.locator(IDLE).count() and player.locator(".gtitle").count():
            title = player.locator(".gtitle").text_content()
            if title != before:
                break
    assert title != before  # new region, new numbers
    assert not page.locator('[data-testid="stException"]').count()
    pos = player.locator("#pos")
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
    page.locator("iframe[srcdoc]").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    shot(page, "lab-mid-animation")
    page.context.close()
