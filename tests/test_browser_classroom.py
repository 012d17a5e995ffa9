"""Classroom-ready in a real browser (Chromium) at a projector's 1366×768 and at 1920×1080.

* every page: no picture (img / canvas / plotly svg / iframe) wider than its column or the window,
  pictures inside component iframes fit their frame (not cropped) and clickable pictures use the
  frame's width; captions and chart labels (ticks, axis titles, legends) ≥ 14 px, captions with
  WCAG-AA contrast; no "Deploy" button; screenshots of every
  page at both sizes in ``test-artifacts/classroom-<page>-<w>x<h>.png``;
* presenter mode from ``?present=1`` and from the sidebar switch (20 px text, sidebar collapsed);
* a shared link opened in a fresh browser context restores page, model, sample and layer.
"""

from __future__ import annotations

import re

import pytest

from app.shell.charts import PRESENT_LEAST_PX
from app.shell.navigation import PAGES
from tests.browser_utils import lab_player, open_app, shot, wait_idle

pytestmark = pytest.mark.browser
SIZES = [(1366, 768), (1920, 1080)]
CLICK_FRAME = 'iframe[title*="cnn_lens_click_image"]'

# Elements of the main document that are wider than their column or the window (or left of it).
OVERFLOW_JS = """() => {
  const vw = document.documentElement.clientWidth, bad = [];
  for (const el of document.querySelectorAll('img, canvas, svg.main-svg, iframe')) {
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) continue;
    const col = el.closest('[data-testid="stColumn"]') || el.closest('[data-testid="stSidebarUserContent"]')
      || el.closest('[data-testid="stMainBlockContainer"]') || document.body;
    const c = col.getBoundingClientRect();
    if (r.right > c.right + 4 || r.left < c.left - 4 || r.right > vw + 1)
      bad.push(`${el.tagName} ${el.getAttribute('title') || el.getAttribute('alt') || ''} `
               + `${r.left.toFixed(0)}-${r.right.toFixed(0)} in column `
               + `${c.left.toFixed(0)}-${c.right.toFixed(0)}`);
  }
  return bad;
}"""

# Inside an iframe: pictures cropped by the frame (right or bottom edge beyond the frame's viewport).
FRAME_JS = """() => {
  const w = document.documentElement.clientWidth, h = document.documentElement.clientHeight, bad = [];
  for (const el of document.querySelectorAll('img, canvas, svg.main-svg')) {
    const r = el.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) continue;
    if (r.right > w + 1.5 || r.bottom > h + 1.5 || r.left < -1.5)
      bad.push(`${el.tagName} ${r.width.toFixed(0)}x${r.height.toFixed(0)} at ${r.left.toFixed(0)},`
               + `${r.top.toFixed(0)} in a ${w}x${h} frame`);
  }
  return bad;
}"""

# Captions: font size (px) and contrast against white (colour alpha-blended onto white).
CAPTIONS_JS = """() => {
  const lum = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const out = [];
  for (const el of document.querySelectorAll(
      '[data-testid="stCaptionContainer"], [data-testid="stImageCaption"]')) {
    if (!el.innerText.trim() || el.getBoundingClientRect().height < 1) continue;
    const s = getComputedStyle(el.querySelector('p') || el);
    const m = s.color.match(/[\\d.]+/g).map(Number), a = m.length > 3 ? m[3] : 1;
    const [r, g, b] = m.slice(0, 3).map((v) => v * a + 255 * (1 - a));
    const L = 0.2126 * lum(r) + 0.7152 * lum(g) + 0.0722 * lum(b);
    out.push({text: el.innerText.slice(0, 40), size: parseFloat(s.fontSize),
              contrast: 1.05 / (L + 0.05), opacity: parseFloat(s.opacity)});
  }
  return out;
}"""


# Chart labels (axis ticks and titles, legends, colour bars) in the main document: smallest size, px.
CHART_TEXT_JS = """() => { const out = {};
  for (const t of document.querySelectorAll('[data-testid="stMain"] svg.main-svg text')) {
    const cls = (t.getAttribute('class') || t.parentNode.getAttribute('class') || '').split(' ')[0];
    if (!/^([xy]\\d*tick|[xy]\\d*title|legendtext|legendtitletext|cbtitle)$/.test(cls)
        || !t.textContent.trim() || t.getBoundingClientRect().width < 1) continue;
    out[cls] = Math.min(out[cls] || 99, parseFloat(getComputedStyle(t).fontSize)); }
  return out; }"""
CHART_PX = 14


def _settle(page) -> None:
    wait_idle(page, 420_000)  # first views of heavy pages on a busy 2-core machine
    page.wait_for_timeout(1200)  # component iframes report their height after the script run
    wait_idle(page, 420_000)


def _full_shot(page, name: str, width: int, height: int) -> None:
    """The whole page (Streamlit scrolls inside stMain, so grow the window to its height)."""
    tall = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": width, "height": min(int(tall) + 20, 8000)})
    page.wait_for_timeout(800)
    shot(page, name)
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(300)


def _frame_problems(page) -> list[str]:
    problems = []
    for frame in page.frames[1:]:
        try:
            problems += [f"{frame.name or frame.url[:60]}: {p}" for p in frame.evaluate(FRAME_JS)]
        except Exception:  # a frame that navigated away while we looked
            continue
    return problems


def _click_images_use_width(page) -> list[str]:
    """Clickable pictures are as wide as their frame (they shrink to fit and grow to use the width)."""
    bad = []
    for handle in page.query_selector_all(CLICK_FRAME):
        frame = handle.content_frame()
        if frame is None:
            continue
        img = frame.evaluate("() => { const i = document.getElementById('pic'); const r = "
                             "i.getBoundingClientRect(); return [r.width, "
                             "document.documentElement.clientWidth, i.style.maxWidth]; }")
        width, frame_w, cap = img
        if cap in ("", "none") and width < 0.97 * frame_w:
            bad.append(f"clickable picture {width:.0f} px in a {frame_w} px frame")
    return bad


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_page_fits_and_reads_at_projector_sizes(app_url: str, browser, width: int,
                                                      height: int) -> None:
    page = open_app(browser, app_url, width=width, height=height)
    assert page.locator('[data-testid="stAppDeployButton"]').count() == 0, "Deploy button in header"
    problems: list[str] = []
    labels_seen: set[str] = set()
    for entry in PAGES:
        path = "" if entry is PAGES[0] else entry.url_path  # the default page lives at the root
        page.goto(f"{app_url}/{path}", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMain"] h1', timeout=240_000)
        _settle(page)
        if entry.url_path == "lab":
            lab_player(page)  # the player has sized its grid to the frame
        assert not page.get_by_text("Page not found").count(), entry.url_path  # a real address
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert "Traceback" not in main and not page.locator('[data-testid="stException"]').count(), \
            entry.url_path
        shot(page, f"classroom-{entry.url_path}-{width}x{height}")
        found = (page.evaluate(OVERFLOW_JS) + _frame_problems(page) + _click_images_use_width(page))
        problems += [f"{entry.url_path}: {p}" for p in found]
        chart_text = page.evaluate(CHART_TEXT_JS)
        labels_seen |= set(chart_text)
        problems += [f"{entry.url_path}: chart {cls} {px} px" for cls, px in chart_text.items()
                     if px < CHART_PX]
        for cap in page.evaluate(CAPTIONS_JS):
            if cap["size"] < 14 or cap["contrast"] < 4.5 or cap["opacity"] < 1:
                problems.append(f"{entry.url_path}: caption {cap}")
        if width == 1366:
            _full_shot(page, f"classroom-{entry.url_path}-{width}x{height}-full", width, height)
    page.context.close()
    assert {"xtick", "ytick", "xtitle", "legendtext"} <= labels_seen, labels_seen  # charts were checked
    assert not problems, "\n".join(problems)


# Short labels (widget labels, radio options, image captions) squeezed into more than two lines.
SQUEEZED_JS = """() => {
  const bad = [], main = '[data-testid="stMain"] ';
  const sel = [main + '[data-testid="stWidgetLabel"] p', main + '[role="radiogroup"] label p',
               main + '[data-testid="stImageCaption"]'].join(', ');
  for (const el of document.querySelectorAll(sel)) {
    const text = el.innerText.trim(), r = el.getBoundingClientRect(), cs = getComputedStyle(el);
    const line = parseFloat(cs.lineHeight) || 1.6 * parseFloat(cs.fontSize);
    if (text && text.length <= 24 && r.height > 2.5 * line)
      bad.push(`"${text}" is ${r.height.toFixed(0)} px tall`);
  }
  return bad;
}"""


def test_inside_pages_at_150_percent_zoom(app_url: str, browser) -> None:
    # 150 % browser zoom on a 1366×768 projector = a 911×512 CSS-pixel window at device scale 1.5
    context = browser.new_context(viewport={"width": 911, "height": 512}, device_scale_factor=1.5)
    page = context.new_page()
    problems: list[str] = []
    for path in ("feature_maps", "receptive_field", "filters"):
        page.goto(f"{app_url}/{path}", wait_until="domcontentloaded")
        page.wait_for_selector('[data-testid="stMain"] h1', timeout=240_000)
        _settle(page)
        shot(page, f"classroom-{path}-zoom150")
        found = page.evaluate(OVERFLOW_JS) + _frame_problems(page) + page.evaluate(SQUEEZED_JS)
        problems += [f"{path}: {p}" for p in found]
    context.close()
    assert not problems, "\n".join(problems)


def test_presenter_mode_from_the_url_and_the_switch(app_url: str, browser) -> None:
    page = open_app(browser, app_url, "feature_maps?present=1", width=1366, height=768)
    _settle(page)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.get_attribute("data-collapsed") == "true", "sidebar not collapsed"
    body_px = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector("
                            "'[data-testid=\"stMain\"] [data-testid=\"stMarkdownContainer\"] p')).fontSize)")
    assert body_px >= 20
    assert "present=1" in page.url
    shot(page, "classroom-presenter-feature_maps-1366x768")
    # open the sidebar and switch presenter mode off: small text, the URL forgets ?present=1
    page.locator('[data-testid="stExpandSidebarButton"]').click()
    toggle = sidebar.get_by_text("Presenter", exact=True)
    toggle.click()
    _settle(page)
    body_px = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector("
                            "'[data-testid=\"stMain\"] [data-testid=\"stMarkdownContainer\"] p')).fontSize)")
    assert body_px < 20 and "present=1" not in page.url
    toggle.click()  # and on again from the switch
    _settle(page)
    assert "present=1" in page.url
    page.goto(f"{app_url}/?present=1", wait_until="domcontentloaded")  # Predict: charts grow too
    page.wait_for_selector('[data-testid="stMain"] h1', timeout=240_000)
    _settle(page)
    chart_text = page.evaluate(CHART_TEXT_JS)
    assert {"xtick", "ytick"} <= set(chart_text), chart_text
    assert min(chart_text.values()) >= PRESENT_LEAST_PX, chart_text
    page.context.close()


def _pick(page, scope: str, label: str, option: str) -> None:
    """Choose ``option`` (a substring of the option text) in the select box labelled ``label``
    inside ``scope`` (the list of options opens in a popover outside it)."""
    page.locator(scope).get_by_role("combobox", name=label).click()
    page.keyboard.type(option)  # long lists are virtualised: filter first
    page.locator('[role="option"]').filter(has_text=option).first.click()
    _settle(page)


def test_shared_link_restores_the_view_in_a_fresh_browser(app_url: str, browser) -> None:
    page = open_app(browser, app_url, "feature_maps", width=1366, height=768)
    _settle(page)
    # a view worth sharing: another model (untrained ResNet-18: no weights offline), a sample, a layer
    _pick(page, '[data-testid="stSidebar"]', "Model", "ResNet-18")
    page.get_by_role("button", name=re.compile("Continue with untrained")).click()
    _settle(page)
    _pick(page, '[data-testid="stSidebar"]', "Sample photo", "coffee")
    _pick(page, '[data-testid="stMain"]', "Layer", "layer3.1.conv2")
    chosen_layer = page.locator('[data-testid="stMain"]').get_by_role("combobox", name="Layer").input_value()
    assert "layer 3 · block 1 · 3×3 conv · 14×14×256" in chosen_layer
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name=re.compile("Share")).click()
    dialog = page.locator('[role="dialog"]')
    dialog.wait_for(timeout=30_000)
    link = dialog.locator('[data-testid="stCode"]').first.inner_text().strip()
    qr = dialog.locator("img").first.bounding_box()
    assert qr is not None and qr["width"] >= 250, "no QR code large enough for a phone"
    shot(page, "classroom-share-dialog-1366x768")
    assert "/feature_maps?" in link and "sample=coffee" in link and "layer3.1.conv2" in link
    assert "model_name=resnet18" in link
    if "127.0.0.1" not in link:  # served on localhost: the link uses the network address, and says so
        assert "network address" in dialog.inner_text()
    page.context.close()

    # a fresh context (no cookies, no session): open the same link on this machine's loopback
    local = re.sub(r"^http://[^/]+", app_url, link)
    fresh = open_app(browser, local, width=1366, height=768)
    _settle(fresh)
    assert "Feature maps" in fresh.locator('[data-testid="stMain"] h1').inner_text()
    side = fresh.locator('[data-testid="stSidebar"]')
    assert "sample: coffee" in side.inner_text()
    assert side.get_by_role("combobox", name="Model").input_value() == "ResNet-18"
    assert "UNTRAINED" in fresh.locator('[data-testid="stMain"]').inner_text()
    restored = fresh.locator('[data-testid="stMain"]').get_by_role("combobox", name="Layer").input_value()
    assert "layer3.1.conv2" in restored
    shot(fresh, "classroom-share-restored-1366x768")
    fresh.context.close()
