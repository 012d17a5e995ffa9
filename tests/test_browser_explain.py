"""Real-browser test of the Explain page: pick a class chip, add methods, screenshot the method grid."""

from __future__ import annotations

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.browser_utils import open_app, shot, wait_idle

pytestmark = pytest.mark.browser


def add_method(page, label: str) -> None:
    """Pick ``label`` in the Methods multiselect (retrying while a rerun redraws the widget)."""
    for _ in range(6):
        wait_idle(page)
        page.locator('[data-testid="stMain"] [data-testid="stMultiSelect"] input').first.click()
        option = page.locator('[role="option"]', has_text=label).first
        try:
            option.wait_for(timeout=5_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            continue
        option.click()
        wait_idle(page)
        return
    raise AssertionError(f"could not pick {label!r} in the Methods list")


def test_explain_method_grid(app_url: str, browser) -> None:
    # start at the root (a fresh server's first hit on /explain runs the page without the sidebar
    # script), then use the navigation menu like a user
    page = open_app(browser, app_url, width=1600, height=1000)
    page.locator('[data-testid="stSidebarNav"] a', has_text="Explain").first.click()
    main = page.locator('[data-testid="stMain"]')
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stImage"]', timeout=120_000)
    wait_idle(page)
    assert "Grad-CAM for “tabby”" in main.inner_text()
    # one click on a top-5 chip re-targets every view
    main.get_by_role("radio", name="Egyptian cat").first.click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stMain\"]').innerText.includes('“Egyptian cat”')",
        timeout=60_000)
    wait_idle(page)
    # add Guided Grad-CAM and SmoothGrad to the method lab
    for label in ("Guided Grad-CAM", "SmoothGrad"):
        add_method(page, label)
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stMain\"]').innerText.includes('SmoothGrad ·')",
        timeout=120_000)
    wait_idle(page)
    text = main.inner_text()
    assert "Guided Grad-CAM ·" in text and "Traceback" not in text
    assert main.locator('[data-testid="stPlotlyChart"]').count() == 1
    page.get_by_text("Method lab: same photo").scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    shot(page, "explain-method-grid")
    page.context.close()
