"""Real-browser tests of the Classroom lab (Playwright + Debian Chromium): step, play / pause /
resume / end at every speed, numbers inside their cells (1366, 1920, 150 % zoom), presenter mode on
one 1366×768 screen, and a shared link that reopens the same lesson and step."""

from __future__ import annotations

import pytest

from tests.browser_utils import IDLE, lab_player, open_app, shot, wait_idle

pytestmark = pytest.mark.browser
SIZES = [(1366, 768), (1920, 1080)]

# Inside the player: for every number drawn in a heatmap cell, its bounding box and the box of the
# cell under its centre (from the subplot's axes), in CSS px of the player document.
CELL_BOXES = """() => {
  const gd = document.getElementById("plot"), full = gd._fullLayout, out = [];
  const axes = Object.keys(full).filter(k => /^xaxis\\d*$/.test(k))
    .map(k => [full[k], full[k.replace("x", "y")]]);
  const root = gd.getBoundingClientRect();
  for (const t of gd.querySelectorAll(".heatmaplayer text")) {
    if (!t.textContent.trim()) continue;
    const b = t.getBoundingClientRect(), cx = (b.left + b.right) / 2 - root.left,
          cy = (b.top + b.bottom) / 2 - root.top;
    for (const [xa, ya] of axes) {
      const x = xa.p2l(cx - xa._offset), y = ya.p2l(cy - ya._offset);
      if (cx < xa._offset || cx > xa._offset + xa._length || cy < ya._offset ||
          cy > ya._offset + ya._length) continue;
      const c = Math.round(x), r = Math.round(y);
      const xs = [xa.l2p(c - 0.5), xa.l2p(c + 0.5)].map(v => v + xa._offset + root.left);
      const ys = [ya.l2p(r - 0.5), ya.l2p(r + 0.5)].map(v => v + ya._offset + root.top);
      out.push({text: t.textContent, size: parseFloat(getComputedStyle(t).fontSize),
                box: [b.left, b.top, b.right, b.bottom],
                cell: [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)]});
      break;
    }
  }
  return out;
}"""


def _open_lab(browser, url: str, query: str = "", *, width: int, height: int, scale: float = 1.0):
    """The lab page in a fresh context; returns (page, the player's frame)."""
    context = browser.new_context(viewport={"width": width, "height": height},
                                  device_scale_factor=scale)
    page = context.new_page()
    page.goto(f"{url}/lab{query}", wait_until="domcontentloaded")
    page.wait_for_selector("iframe[srcdoc]", timeout=180_000)
    wait_idle(page)
    return page, lab_player(page)


def _step(frame) -> int:
    return int(frame.locator("#pos").inner_text().split()[1])


def _wait_step(frame, predicate, timeout_ms: int = 8000) -> int:
    for _ in range(timeout_ms // 50):
        step = _step(frame)
        if predicate(step):
            return step
        frame.page.wait_for_timeout(50)
    return _step(frame)


def _numbers_inside_cells(frame) -> list[dict]:
    boxes = frame.evaluate(CELL_BOXES)
    assert len(boxes) > 50  # input, kernel, products and output numbers were all found
    def inside(b: dict) -> bool:
        (x0, y0, x1, y1), (c0, r0, c1, r1) = b["box"], b["cell"]
        return c0 - 0.5 <= x0 and x1 <= c1 + 0.5 and r0 - 0.5 <= y0 and y1 <= r1 + 0.5

    return [b for b in boxes if not inside(b)]


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_play_pause_resume_and_stop_at_the_end(app_url: str, browser, width: int, height: int) -> None:
    page, player = _open_lab(browser, app_url, width=width, height=height)
    assert _step(player) == 1 and "output row 1, col 1" in player.locator("#step").inner_text()
    play, speed = player.locator("#play"), player.locator("#speed")
    for name, ms in (("very fast", 40), ("fast", 150), ("normal", 500), ("slow", 1200)):
        speed.select_option(label=name)
        start = _step(player)
        play.click()
        moved = _wait_step(player, lambda s, a=start: s >= a + 2, timeout_ms=4 * ms + 3000)
        assert moved >= start + 2, f"{name}: play moved {start} → {moved}"  # several steps on its own
        play.click()  # pause
        held = _step(player)
        page.wait_for_timeout(ms + 300)
        assert _step(player) == held and player.locator("#play").inner_text() == "▶ play", name
    resumed_from = _step(player)
    speed.select_option(label="very fast")
    play.click()  # resume: continues from where it paused …
    assert _wait_step(player, lambda s: s > resumed_from) > resumed_from
    assert _wait_step(player, lambda s: s == 36, 10_000) == 36  # … and stops at the last step
    page.wait_for_timeout(400)
    assert _step(player) == 36 and player.locator("#play").inner_text() == "▶ play"
    assert player.evaluate("window.labPlayer.playing()") is False
    player.locator("#scrub").fill("10")  # scrub
    assert _step(player) == 10 and "step 10/36" in player.locator("#step").inner_text()
    assert page.locator(IDLE).count() == 1  # all of it in the browser: no script rerun
    assert not (bad := _numbers_inside_cells(player)), bad[:3]
    page.locator("iframe[srcdoc]").scroll_into_view_if_needed()
    shot(page, f"lab-player-{width}x{height}")
    page.context.close()


def test_numbers_fit_their_cells_at_150_percent_zoom(app_url: str, browser) -> None:
    page, player = _open_lab(browser, app_url, "?lab_rgb=RGB&lab_op=depthwise", width=911, height=512,
                             scale=1.5)  # 1366×768 at 150 % browser zoom
    assert not (bad := _numbers_inside_cells(player)), bad[:3]
    step = player.locator("#step")
    assert step.inner_text().startswith("step 1/36") and step.bounding_box()["width"] <= 911
    page.locator("iframe[srcdoc]").scroll_into_view_if_needed()
    shot(page, "lab-zoom150-depthwise-rgb")
    page.context.close()


@pytest.mark.parametrize("query", ["?present=1", "?present=1&lab_rgb=RGB"])
def test_presenter_mode_fits_one_projector_screen(app_url: str, browser, query: str) -> None:
    page, player = _open_lab(browser, app_url, query, width=1366, height=768)
    # boxes of elements inside the player are in the page's viewport coordinates
    plot = player.locator("#plot .cartesianlayer").bounding_box()
    bar, step = player.locator("#bar").bounding_box(), player.locator("#step").bounding_box()
    assert bar["y"] >= 0 and step["y"] + step["height"] <= plot["y"] + 40
    assert plot["y"] + plot["height"] <= 768, plot  # controls, step line and the whole grid
    assert page.evaluate("document.querySelector('[data-testid=stMain]').scrollTop") == 0
    shot(page, "lab-presenter-1366x768" + ("-rgb" if "RGB" in query else ""))
    boxes = player.evaluate(CELL_BOXES)
    assert not _numbers_inside_cells(player)
    # the default lesson reads from the back of the room; with three channels they sit side by side
    # (inputs on top, each channel's kernel and products under it), so their digits stay large too
    least = 16 if "RGB" not in query else 12
    assert min(b["size"] for b in boxes) >= least, sorted({b["size"] for b in boxes})
    page.context.close()


def test_shared_link_reopens_the_same_lesson_and_step(app_url: str, browser) -> None:
    page, player = _open_lab(browser, app_url, "?lab_op=max&lab_pool_k=2&step=5", width=1366, height=768)
    assert page.get_by_text("Max pooling").count() and _step(player) == 5
    assert "max of the window" in player.locator("#step").inner_text()
    player.locator("#next").click()
    page.wait_for_timeout(300)
    url = page.url
    assert "lab_op=max" in url and "step=6" in url  # the address bar follows the player
    page.context.close()
    page, player = _open_lab(browser, app_url, "?" + url.split("?", 1)[1], width=1920, height=1080)
    assert _step(player) == 6 and player.locator("#pos").inner_text() == "step 6 / 16"
    page.context.close()


def test_lab_steps_forward_and_back_in_the_browser(app_url: str, browser) -> None:
    page = open_app(browser, app_url, width=1600, height=1100)
    page.get_by_role("link", name="Convolution lab").click()
    wait_idle(page)
    page.wait_for_selector("iframe[srcdoc]", timeout=120_000)
    wait_idle(page)
    page.get_by_text("learned filter", exact=True).click()  # the learned filter: one click away
    wait_idle(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "Real learned filter" in main and "Traceback" not in main
    player = lab_player(page)
    # choose the region by clicking the photo (top-left corner): the page recomputes, no error
    before = player.locator("#step").inner_text()
    page.frame_locator('iframe[title*="cnn_lens_click_image"]').locator("img").click(
        position={"x": 25, "y": 25})
    title = before
    for _ in range(120):  # the click reruns the script once; wait for the new animation
        page.wait_for_timeout(500)
        if page.locator(IDLE).count():
            player = lab_player(page)
            title = player.locator("#step").inner_text()
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
    title = player.locator("#step").inner_text()
    assert title.startswith("step 14/36 · output row 3, col 2") and "bias" in title
    assert page.locator(IDLE).count() == 1  # stepping happened in the browser: no rerun
    page.locator("iframe[srcdoc]").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    shot(page, "lab-mid-animation")
    page.context.close()


GRID_IN_FRAME = """() => { const r = document.querySelector('#plot svg.main-svg').getBoundingClientRect();
  return {top: r.top, bottom: r.bottom, frame: document.documentElement.clientHeight}; }"""


def test_grid_stays_in_its_frame_when_the_controls_grow(app_url: str, browser) -> None:
    """The controls above the grid can grow after the player has drawn (a font arriving late, the
    toolbar wrapping at a projector's width): the grid is sized again and never ends below its frame;
    stepping through the lesson never moves it (the step line and position keep their room)."""
    page, player = _open_lab(browser, app_url, width=1366, height=768)
    first = player.evaluate(GRID_IN_FRAME)
    assert first["bottom"] <= first["frame"] + 1, first
    tops = set()
    for _ in range(12):
        player.locator("#next").click()
        tops.add(round(player.evaluate(GRID_IN_FRAME)["top"]))
    assert tops == {round(first["top"])}, tops
    player.evaluate("document.querySelector('#bar .hint').style.fontSize = '44px'")  # toolbar wraps
    player.wait_for_function(f"document.getElementById('plot').getBoundingClientRect().top > "
                             f"{first['top'] + 20}")
    player.wait_for_function("(() => { const r = document.querySelector('#plot svg.main-svg')"
                             ".getBoundingClientRect(); return r.bottom <= "
                             "document.documentElement.clientHeight + 1; })()", timeout=5000)
    page.context.close()
