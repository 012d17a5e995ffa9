"""Real browsers at once: three students upload different photos on the Explain page together; the
compute gate queues them visibly, and each gets the Grad-CAM of its own photo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests.browser_utils import open_app, shot, wait_idle
from tests.conftest import photo_bytes

pytestmark = pytest.mark.browser
MAIN = '[data-testid="stMain"]'


def test_three_students_at_once(app_url: str, browser, tmp_path: Path) -> None:
    files = []
    for i, name in enumerate(("coffee", "rocket", "astronaut")):
        path = tmp_path / f"student-{i}.png"
        path.write_bytes(photo_bytes(name))
        img = Image.open(path)
        ImageOps.mirror(img).save(path)  # photos nobody has computed yet
        files.append(path)
    pages = []
    for _ in files:  # each student opens the app, then the Explain page from the menu
        page = open_app(browser, app_url, width=1366, height=768)
        page.locator('[data-testid="stSidebarNav"] a', has_text="Explain").first.click()
        page.wait_for_selector(f'{MAIN} :text("Grad-CAM for")', timeout=180_000)
        wait_idle(page, timeout_ms=300_000)
        pages.append(page)
    for page in pages:  # remember a queue notice even if it shows for less than one poll
        page.evaluate("""() => { window.__queued = false; const main = document.querySelector(
            '[data-testid="stMain"]'); new MutationObserver(() => { if (main.innerText.includes(
            'Queued — position')) window.__queued = true; }).observe(main, {childList: true,
            subtree: true, characterData: true}); }""")
    for page, path in zip(pages, files, strict=True):  # all three upload without waiting
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    queued = None
    for _ in range(200):  # bounded: ~40 s
        for page in pages:
            if page.evaluate("window.__queued"):
                queued = page
                break
        if queued is not None:
            break
        pages[0].wait_for_timeout(200)
    assert queued is not None, "no student saw the 'Queued — position N' notice"
    shot(queued, "scale-queued")
    for page, path in zip(pages, files, strict=True):
        page.wait_for_selector(f'{MAIN} :text("Grad-CAM for")', timeout=180_000)
        wait_idle(page, timeout_ms=300_000)
        body = page.locator(MAIN).inner_text()
        assert "Traceback" not in body and "too busy" not in body
        assert path.name in page.locator('[data-testid="stSidebar"]').inner_text()
    shot(pages[-1], "scale-explain-done")
    for page in pages:
        page.context.close()
