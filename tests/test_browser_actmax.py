"""Real-browser test of the Feature visualisation page: a finished visualisation is on screen."""

from __future__ import annotations

import pytest

from tests.browser_utils import open_app, shot, wait_idle

pytestmark = pytest.mark.browser


def test_feature_visualisation_finishes(app_url: str, browser) -> None:
    page = open_app(browser, app_url)
    page.get_by_role("link", name="Feature visualisation").click()
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stPlotlyChart"]', timeout=180_000)
    wait_idle(page, 180_000)
    main = page.locator('[data-testid="stMain"]')
    text = main.inner_text()
    assert "Traceback" not in text
    assert "128×128 px · 64 steps · seed 0" in text
    assert main.locator('[data-testid="stImage"] img').count() >= 1
    # a different seed gives a new picture (computed live, then shown)
    seed = page.get_by_label("Seed")
    seed.fill("3")
    seed.press("Enter")
    page.wait_for_function("() => document.body.innerText.includes('seed 3')", timeout=180_000)
    wait_idle(page, 180_000)
    assert main.locator('[data-testid="stImage"] img').count() >= 1
    shot(page, "feature-vis")
    page.context.close()
