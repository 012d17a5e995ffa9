"""Real-browser test of the Explain page: pick a class chip, add methods, screenshot the method grid."""

from __future__ import annotations

import re

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
    assert main.locator('[data-testid="stPlotlyChart"]').count() == 0  # faithfulness: on demand
    page.get_by_text("Method lab: same photo").scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    shot(page, "explain-method-grid")
    page.context.close()


ACTIVE_CHIPS = ("() => document.querySelectorAll('[data-testid=\"stMain\"] [data-testid=\"stButtonGroup\"] "
                "[aria-checked=\"true\"], [data-testid=\"stMain\"] "
                "[data-testid=\"stBaseButton-pillsActive\"]').length")


def main_text(page) -> str:
    return page.locator('[data-testid="stMain"]').inner_text()


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("width", "height"), [(1366, 768), (1920, 1080)])
def test_explain_class_search_and_faithfulness_on_demand(app_url: str, browser, width: int,
                                                         height: int) -> None:
    page = open_app(browser, app_url, width=width, height=height)  # the root first (warms the server)
    # a shared link to Explain with two methods in the lab: the link restores them
    page.goto(f"{app_url}/explain?explain_methods=gradcam%2Csaliency", wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stImage"]', timeout=180_000)
    wait_idle(page)
    assert "Grad-CAM for “tabby”" in main_text(page)
    assert page.evaluate(ACTIVE_CHIPS) == 1  # the top class's chip is the selection
    assert "Saliency ·" in main_text(page) and "Layer-CAM ·" not in main_text(page)  # from the link
    # faithfulness is not computed on the first view
    assert page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').count() == 0
    shot(page, f"explain-first-view-{width}")
    # search any class: the search box becomes THE selection, no top-5 chip stays lit
    box = page.locator('[data-testid="stSelectbox"]', has_text="or any ImageNet class").first
    box.locator("input").click()
    page.keyboard.type("banana")
    page.locator('[role="option"]', has_text="banana (954)").first.click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stMain\"]').innerText.includes('“banana”')",
        timeout=120_000)
    wait_idle(page)
    assert page.evaluate(ACTIVE_CHIPS) == 0, "a top-5 chip still looks selected after the search"
    # a chip click moves the one selection back
    page.locator('[data-testid="stMain"]').get_by_role("radio", name="Egyptian cat").first.click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"stMain\"]').innerText.includes('“Egyptian cat”')",
        timeout=120_000)
    wait_idle(page)
    assert page.evaluate(ACTIVE_CHIPS) == 1
    shown = box.evaluate("el => el.innerText + ' ' + [...el.querySelectorAll('input')].map(i => i.value)"
                         ".join(' ')")
    assert "Egyptian cat (285)" in shown, shown  # the search box follows the chip: one selection
    # faithfulness on demand: press the button, the curves and the table appear
    button = page.get_by_role("button", name=re.compile("Compute faithfulness scores"))
    button.scroll_into_view_if_needed()
    button.click()
    try:
        page.wait_for_selector('[data-testid="stMain"] [data-testid="stPlotlyChart"]', timeout=240_000)
    except PlaywrightTimeout:
        shot(page, f"explain-faithfulness-failed-{width}", full_page=True)
        raise AssertionError(f"no faithfulness chart after the button: {main_text(page)[-1500:]}") from None
    wait_idle(page)
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stDataFrame"]', timeout=60_000)
    wait_idle(page)
    assert page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').count() == 1
    assert "Traceback" not in main_text(page)
    page.locator('[data-testid="stMain"] [data-testid="stPlotlyChart"]').first.scroll_into_view_if_needed()
    page.wait_for_timeout(800)
    shot(page, f"explain-faithfulness-{width}")
    page.get_by_text("Grad-CAM for “Egyptian cat”").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    shot(page, f"explain-overlay-{width}")
    page.context.close()
