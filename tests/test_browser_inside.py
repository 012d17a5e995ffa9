"""Real-browser test of the Feature maps page: mosaic shown, a click on a tile enlarges that
channel, the overview strip is there; saves test-artifacts/feature-maps.png."""

from __future__ import annotations

import pytest

from tests.browser_utils import open_app, shot, wait_idle

pytestmark = pytest.mark.browser


def test_feature_maps_click_a_tile(app_url: str, browser) -> None:
    page = open_app(browser, app_url, width=1600, height=1100)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Feature maps", exact=True).click()
    page.wait_for_selector("text=Overview: the most active channel", timeout=120_000)
    wait_idle(page)
    main = page.locator('[data-testid="stMain"]')
    assert "channels" in main.inner_text() and "Traceback" not in main.inner_text()
    channel = page.get_by_label("Channel", exact=True)
    before = channel.input_value()
    frame = page.frame_locator('iframe[title*="cnn_lens_click_image"]').first
    img = frame.locator("#pic")
    img.wait_for(timeout=60_000)
    box = img.bounding_box()
    assert box is not None and box["width"] > 200
    img.click(position={"x": 8, "y": 8})  # the first tile (index order: channel 0)
    page.wait_for_timeout(800)
    wait_idle(page)
    assert before != "0"  # the page starts on the most active channel
    assert channel.input_value() == "0"
    assert "Channel 0:" in main.inner_text()
    shot(page, "feature-maps")
    page.locator('[data-testid="stRadio"]').get_by_text("global", exact=True).click()  # one more pass: ranges
    page.wait_for_timeout(800)
    wait_idle(page)
    assert "Traceback" not in main.inner_text() and "Error" not in main.inner_text()
    img.wait_for(timeout=60_000)
    assert channel.input_value() == "0"  # the picked channel survives the change of scale
    shot(page, "feature-maps-global", full_page=True)
    page.context.close()
