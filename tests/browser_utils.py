"""Helpers for the real-browser tests (Playwright + Debian Chromium)."""

from __future__ import annotations

from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def wait_idle(page, timeout_ms: float = 120_000) -> None:
    """Wait until the Streamlit script run has finished."""
    page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=timeout_ms)


def open_app(browser, url: str, path: str = "", *, width: int = 1600, height: int = 1000):
    """A new browser context + page at ``url/path``, after the first script run has finished."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.goto(f"{url}/{path}".rstrip("/"), wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stElementContainer"]', timeout=120_000)
    wait_idle(page)
    return page


def shot(page, name: str, *, full_page: bool = False) -> Path:
    """Save a screenshot under test-artifacts/<name>.png and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def upload(page, file_path: Path) -> None:
    """Upload ``file_path`` through the sidebar's file uploader."""
    dropzone = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    dropzone.set_input_files(str(file_path))
    page.wait_for_timeout(500)
    wait_idle(page)


def lab_player(page):
    """The frame of the animation player, once it has drawn its first step."""
    for _ in range(240):
        for frame in page.frames:
            try:
                if frame.evaluate("document.body && document.body.dataset.ready === '1'"):
                    return frame
            except Exception:  # a frame being replaced during a rerun
                continue
        page.wait_for_timeout(250)
    raise AssertionError("the lab player did not start")
