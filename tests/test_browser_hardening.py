"""Real browser against a live server: uploads are judged by content (a PNG named .xyz is accepted, a
text file gets our own message), a file name with markdown is shown literally and never fetched,
and /_stcore/metrics is not served (issue 13, findings 7–10)."""

from __future__ import annotations

import io
import urllib.error
import urllib.request

import pytest
from PIL import Image

from tests.browser_utils import open_app, shot, wait_idle

pytestmark = pytest.mark.browser


def png_bytes(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 90), colour).save(buf, "PNG")
    return buf.getvalue()


def put(page, name: str, data: bytes, mime: str = "application/octet-stream") -> None:
    page.locator('[data-testid="stSidebar"] [data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}])
    page.wait_for_timeout(500)
    wait_idle(page)


@pytest.mark.parametrize("width,height", [(1366, 768), (1920, 1080)])
def test_uploads_are_judged_by_content(app_url: str, browser, width: int, height: int) -> None:
    page = open_app(browser, app_url, width=width, height=height)
    sidebar = page.locator('[data-testid="stSidebar"]')
    put(page, "holiday.xyz", png_bytes((10, 200, 30)))
    page.wait_for_function("() => document.body.innerText.includes('holiday.xyz · 120×90')",
                           timeout=60_000)
    assert "was not accepted" not in page.locator('[data-testid="stMain"]').inner_text()

    put(page, "notes.txt", b"just some text, not a picture\n" * 20, "text/plain")
    page.wait_for_selector("text=was not accepted", timeout=60_000)
    body = page.locator("body").inner_text()
    assert "This file is not an image we can read" in body
    assert "StreamlitAPIException" not in body and "Traceback" not in body
    assert "holiday.xyz · 120×90" in sidebar.inner_text()  # the previous photo is kept
    shot(page, f"upload-refused-by-content-{width}")
    page.context.close()


def test_markdown_in_a_file_name_is_shown_literally_and_never_fetched(app_url: str, browser) -> None:
    page = open_app(browser, app_url, width=1366, height=768)
    fetched: list[str] = []
    page.on("request", lambda r: fetched.append(r.url) if "pwned" in r.url else None)
    evil = f"![t]({app_url}/pwned.png)"
    put(page, evil + ".png", png_bytes((200, 10, 10)))
    page.wait_for_function("() => document.body.innerText.includes('pwned')", timeout=60_000)
    assert evil in page.locator('[data-testid="stSidebar"]').inner_text()  # literal text
    put(page, evil + ".txt", b"no image", "text/plain")  # and in the refusal message
    page.wait_for_selector("text=was not accepted", timeout=60_000)
    assert evil in page.locator('[data-testid="stMain"]').inner_text()
    page.wait_for_timeout(500)
    assert not fetched, fetched
    shot(page, "upload-markdown-name")
    page.context.close()


def test_metrics_endpoint_is_not_served(app_url: str) -> None:
    with urllib.request.urlopen(f"{app_url}/_stcore/health", timeout=10) as r:
        assert r.status == 200
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{app_url}/_stcore/metrics", timeout=10)
    assert info.value.code == 404
