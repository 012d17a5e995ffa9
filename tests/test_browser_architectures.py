"""Real-browser test of Architectures compared at 1366×768 and 1920×1080: a click on a point of the
history chart switches the sidebar's model; a key-idea card draws the Inception module; two models
are compared on one photo (offline default against an untrained model), the latency button times
them and the "same class" switch reruns. Screenshots: test-artifacts/architectures-*.png."""

from __future__ import annotations

import pytest

from app.architectures.figures import LABEL_PX
from tests.browser_utils import open_app, shot, wait_idle

pytestmark = pytest.mark.browser

SIZES = [(1366, 768), (1920, 1080)]
POINT_JS = """([family, name]) => {
  const gd = [...document.querySelectorAll('.js-plotly-plot')].find(
      g => (g._fullData || []).some(t => t.name === family));
  const tr = gd._fullData.find(t => t.name === family);
  const i = tr.customdata.findIndex(c => c[0] === name);
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis;
  const r = gd.getBoundingClientRect();
  return [r.left + xa._offset + xa.d2p(tr.x[i]), r.top + ya._offset + ya.d2p(tr.y[i])];
}"""


# The model names drawn next to the points: font size and box of each (page px).
NAMES_JS = """() => [...document.querySelectorAll('.js-plotly-plot .scatterlayer .textpoint text')]
  .filter(t => t.textContent.trim()).map(t => { const b = t.getBoundingClientRect();
    return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize),
            box: [b.left, b.top, b.right, b.bottom]}; })"""


def _names_readable_apart(page) -> None:
    names = page.evaluate(NAMES_JS)
    assert len(names) >= 12 and min(n["px"] for n in names) >= LABEL_PX, names
    clash = [(a["text"], b["text"]) for i, a in enumerate(names) for b in names[i + 1:]
             if min(a["box"][2], b["box"][2]) - max(a["box"][0], b["box"][0]) > 2
             and min(a["box"][3], b["box"][3]) - max(a["box"][1], b["box"][1]) > 2]
    assert not clash, clash


def _settle(page) -> None:
    page.wait_for_timeout(600)
    wait_idle(page, 240_000)


def _pick(page, label: str, option: str) -> None:
    page.locator('[data-testid="stMain"]').get_by_role("combobox", name=label).click()
    page.keyboard.type(option)
    page.locator('[role="option"]').filter(has_text=option).first.click()
    _settle(page)


def _fits(page, locator, width: int) -> None:
    box = locator.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_architectures_page(app_url: str, browser, width: int, height: int) -> None:
    page = open_app(browser, app_url, "architectures", width=width, height=height)
    main = page.locator('[data-testid="stMain"]')
    sidebar = page.locator('[data-testid="stSidebar"]')
    chart = main.locator(".js-plotly-plot").first
    chart.wait_for(timeout=120_000)
    _settle(page)
    chart.scroll_into_view_if_needed()
    _fits(page, chart, width)
    assert "ResNet-50" in chart.inner_text() and "ConvNeXt-Tiny" in chart.inner_text()
    _names_readable_apart(page)
    model_box = sidebar.get_by_role("combobox", name="Model")
    assert model_box.input_value() == "EfficientNet-Lite0"

    x, y = page.evaluate(POINT_JS, ["ResNet", "resnet50"])
    page.mouse.click(x, y)
    _settle(page)
    assert model_box.input_value() == "ResNet-50", "the click did not switch the sidebar's model"
    assert "Opened ResNet-50" in main.inner_text()
    page.mouse.move(5, height - 5)  # no hover label in the screenshot
    page.wait_for_timeout(300)
    shot(page, f"architectures-history-{width}x{height}")

    main.get_by_text("Key ideas", exact=True).click()
    _settle(page)
    main.locator('[data-testid="stButtonGroup"]').get_by_text("Inception", exact=True).click()
    _settle(page)
    block = main.locator('[data-testid="stPlotlyChart"]').first
    block.wait_for(timeout=120_000)
    text = block.inner_text()
    assert "concat" in text and "Conv 1×1 192→16" in text and "MaxPool2d 3×3" in text
    _fits(page, block, width)
    assert "7.2×" in main.inner_text()
    block.scroll_into_view_if_needed()
    shot(page, f"architectures-inception-{width}x{height}")

    main.get_by_text("Two models on one photo", exact=True).click()
    _settle(page)
    cut = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stMetricValue"]')]
        .filter(e => e.scrollWidth > e.clientWidth + 1 || (e.querySelector('div') || e).scrollWidth
                > (e.querySelector('div') || e).clientWidth + 1).map(e => e.innerText)""")
    assert not cut, f"metric values cut off: {cut}"
    _pick(page, "Model A", "EfficientNet-Lite0")
    _pick(page, "Model B", "ResNet-18")
    body = main.inner_text()
    assert "A: EfficientNet-Lite0" in body and "B: ResNet-18" in body
    assert "Correlation of the two maps" in body
    assert "ResNet-18 is UNTRAINED" in body or "B: ResNet-18 —" not in body
    measure = main.get_by_role("button", name="Measure the latency")
    if measure.count():
        measure.click()
        _settle(page)
    metrics = main.locator('[data-testid="stMetric"]').filter(has_text="CPU latency")
    assert metrics.count() == 2 and all("ms" in metrics.nth(i).inner_text() for i in range(2))
    diff = main.locator('[data-testid="stImage"]').filter(has_text="A − B")
    diff.wait_for(timeout=60_000)
    _fits(page, diff, width)
    main.get_by_text("the same class for both (A's top class)").click()
    _settle(page)
    assert "Correlation of the two maps" in main.inner_text() and "Traceback" not in main.inner_text()
    main.locator('[data-testid="stImage"]').first.scroll_into_view_if_needed()
    shot(page, f"architectures-compare-{width}x{height}")
    diff.scroll_into_view_if_needed()
    shot(page, f"architectures-difference-{width}x{height}")
    fetch = main.get_by_role("button", name="Try to download the pretrained weights")
    if width == 1366 and fetch.count():  # offline: the attempt fails and says why, once
        fetch.first.click()
        _settle(page)
        assert "Download failed:" in main.inner_text()
        assert main.get_by_role("button", name="Try to download the pretrained weights").count() == 0
    page.context.close()
