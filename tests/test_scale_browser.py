"""Real browsers at once: three students upload different photos on the Explain page together; the
compute gate queues them visibly, and each gets the Grad-CAM of its own photo.

The queue is made certain, not left to timing: this test runs its own server with ONE compute slot
(``CNN_LENS_COMPUTE_SLOTS=1``), and the first student's Explain page includes Occlusion (seconds of
masked forwards on its private model copy, holding the only slot). The other two upload while its
progress bar runs, so each of them must wait for the slot and see "Queued — position N".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests.browser_utils import open_app, shot, wait_idle
from tests.conftest import photo_bytes

pytestmark = pytest.mark.browser
MAIN = '[data-testid="stMain"]'
WATCH_QUEUE = """() => { window.__queued = false; const main = document.querySelector(
    '[data-testid="stMain"]'); new MutationObserver(() => { if (main.innerText.includes(
    'Queued — position')) window.__queued = true; }).observe(main, {childList: true,
    subtree: true, characterData: true}); }"""


@pytest.fixture(scope="module")
def one_slot_url(tmp_path_factory: pytest.TempPathFactory):
    """A real app server whose compute gate has a single slot."""
    from tests.devserver import AppServer, free_port

    server = AppServer(free_port(), tmp_path_factory.mktemp("one-slot"),
                       env={"CNN_LENS_COMPUTE_SLOTS": "1"})
    try:
        yield server.url
    finally:
        server.stop()


def _photos(tmp_path: Path) -> list[Path]:
    files = []
    for i, name in enumerate(("coffee", "rocket", "astronaut")):
        path = tmp_path / f"student-{i}.png"
        path.write_bytes(photo_bytes(name))
        ImageOps.mirror(Image.open(path)).save(path)  # photos nobody has computed yet
        files.append(path)
    return files


def test_three_students_at_once(one_slot_url: str, browser, tmp_path: Path) -> None:
    files = _photos(tmp_path)
    paths = ["explain?explain_methods=gradcam,occlusion", "explain", "explain"]
    pages = []
    for path in paths:  # each student opens the Explain page (the first one with Occlusion too)
        page = open_app(browser, one_slot_url, path, width=1366, height=768)
        page.wait_for_selector(f'{MAIN} :text("Grad-CAM for")', timeout=180_000)
        wait_idle(page, timeout_ms=300_000)
        page.evaluate(WATCH_QUEUE)  # remember a queue notice even if it shows for less than one poll
        pages.append(page)
    first, others = pages[0], pages[1:]
    assert "Occlusion" in first.locator(MAIN).inner_text()
    first.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(files[0]))
    first.wait_for_selector(f'{MAIN} [data-testid="stProgress"]', timeout=120_000)  # holds the slot
    for page, path in zip(others, files[1:], strict=True):  # the other two upload meanwhile
        page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    for page in others:
        page.wait_for_function("window.__queued === true", timeout=60_000)
    shot(others[-1], "scale-queued")
    for page, path in zip(pages, files, strict=True):
        page.wait_for_selector(f'{MAIN} :text("Grad-CAM for")', timeout=180_000)
        wait_idle(page, timeout_ms=300_000)
        body = page.locator(MAIN).inner_text()
        assert "Traceback" not in body and "too busy" not in body
        assert path.name in page.locator('[data-testid="stSidebar"]').inner_text()
    assert "Occlusion" in first.locator(MAIN).inner_text()
    shot(pages[-1], "scale-explain-done")
    for page in pages:
        page.context.close()
