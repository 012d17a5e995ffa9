"""Chromium through the deploy/ nginx proxy in front of 2 replicas: a real frontend's page load, websocket,
XSRF-checked upload and media all ride the route cookie; when its replica is SIGKILLed the frontend
reconnects by itself, lands on the live replica (re-pinned cookie) and a new upload works there."""

from __future__ import annotations

import secrets
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from deploy.localcluster import Proxy, Replica, nginx_binary
from tests.browser_utils import open_app, shot, upload, wait_idle
from tests.conftest import photo_bytes
from tests.devserver import free_port

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(nginx_binary() is None, reason="nginx not installed (make test: root)")]
MAIN = '[data-testid="stMain"]'


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[tuple[Proxy, list[Replica]]]:
    root = tmp_path_factory.mktemp("cluster")
    secret = secrets.token_hex(32)
    reps: list[Replica] = []
    proxy = None
    try:
        for k in range(2):
            (root / f"r{k}").mkdir()
            reps.append(Replica(free_port(), root / f"r{k}", secret=secret))
        proxy = Proxy(free_port(), [r.addr for r in reps], root / "proxy")
        yield proxy, reps
    finally:
        if proxy is not None:
            proxy.stop()
        for r in reps:
            r.stop()


def route(page) -> str:
    return next((c["value"] for c in page.context.cookies() if c["name"] == "lens_route"), "")


def main_text_has(page, text: str, timeout: float = 180_000) -> None:
    page.wait_for_function(
        "t => document.querySelector('[data-testid=\"stMain\"]')?.innerText.includes(t)", arg=text,
        timeout=timeout)
    wait_idle(page)


def upload_coffee(page, tmp_path) -> None:
    photo = tmp_path / "espresso-cup.png"
    photo.write_bytes(photo_bytes("coffee"))
    page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached", timeout=120_000)
    upload(page, photo)
    main_text_has(page, "espresso")


@pytest.mark.parametrize("size", [(1366, 768), (1920, 1080)])
def test_app_through_the_proxy(cluster, browser, tmp_path, size) -> None:
    proxy, _ = cluster
    page = open_app(browser, proxy.url, width=size[0], height=size[1])
    try:
        pinned = route(page)
        assert pinned in ("r0", "r1")
        upload_coffee(page, tmp_path)  # multipart PUT with the XSRF cookie + header, through nginx
        assert route(page) == pinned
        text = page.locator(MAIN).inner_text()
        assert "Traceback" not in text and "Something went wrong" not in text
        assert page.locator(f'{MAIN} [data-testid="stImage"] img').first.evaluate("i => i.naturalWidth") > 0
        shot(page, f"cluster-proxy-{size[0]}x{size[1]}")
        with pytest.raises(urllib.error.HTTPError) as info:  # `cnn-lens serve` hides it like `run`
            urllib.request.urlopen(f"{proxy.url}/_stcore/metrics", timeout=30)
        assert info.value.code == 404
    finally:
        page.context.close()


def test_browser_reconnects_to_the_live_replica(cluster, browser, tmp_path) -> None:
    proxy, reps = cluster
    page = open_app(browser, proxy.url, width=1366, height=768)
    try:
        upload_coffee(page, tmp_path)
        pinned = route(page)
        reps[int(pinned[1])].crash()
        other = "r1" if pinned == "r0" else "r0"
        # the frontend notices the closed websocket, re-checks health (the proxy re-pins the cookie
        # to the replica that answered) and opens a new session there, with no reload by the user
        for _ in range(240):
            if route(page) == other:
                break
            page.wait_for_timeout(500)
        assert route(page) == other
        page.wait_for_selector('[data-testid="stFileUploaderDropzoneInput"]', state="attached",
                               timeout=120_000)
        wait_idle(page)
        shot(page, "cluster-after-crash-1366x768")
        # the new session on the live replica works: a different photo gives a new result
        photo = tmp_path / "cat-after-crash.png"
        photo.write_bytes(photo_bytes("chelsea"))
        upload(page, photo)
        main_text_has(page, "tabby")
        page.wait_for_function("() => document.querySelector('[data-testid=\"stSidebar\"]')"
                               ".innerText.includes('cat-after-crash.png')", timeout=60_000)
        assert route(page) == other
        text = page.locator(MAIN).inner_text()
        assert "espresso" not in text and "Traceback" not in text and "Something went wrong" not in text
        shot(page, "cluster-after-crash-reupload-1366x768")
    finally:
        page.context.close()
