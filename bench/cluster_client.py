"""Browser flows for ``bench/cluster.py`` and the tests: connect as the frontend does, upload on
Explain and check the Grad-CAM against the same request computed alone, reconnect after a crash."""

from __future__ import annotations

import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `make bench` runs every bench/*.py as a script (this one does nothing)

from bench.load import GRADCAM, Expected, check_cam, has_cam, problems  # noqa: E402
from bench.loadclient import Session, open_session  # noqa: E402
from deploy.localcluster import Browser  # noqa: E402


def page_opacity(default: float = 0.75) -> float:
    """The Explain page's default "Map opacity" (read from its source: the page evolves)."""
    src = (ROOT / "app" / "explain" / "page.py").read_text()
    m = re.search(r'slider\(\s*"Map opacity",\s*[\d.]+,\s*[\d.]+,\s*([\d.]+)', src)
    return float(m.group(1)) if m else default


@dataclass(frozen=True)
class Reference:
    """The first Grad-CAM the Explain page shows for one photo, computed alone in this process."""

    name: str  # top-1 class
    crop: object  # PIL image: exactly what the model gets
    cam: object  # CamResult
    figures: object

    def overlay(self, cmap: str) -> np.ndarray:
        over = self.figures.cam_overlay(self.crop, self.cam, cmap=cmap, alpha=page_opacity())
        return np.asarray(over.convert("RGB"))


class PageExpected(Expected):
    """References computed alone; the colour map is taken from what the session's page offers."""

    def __call__(self, data: bytes) -> Reference:
        from vizcore.core.images import load_image
        from vizcore.core.preprocess import model_input

        image = load_image(data)
        inp = model_input(image.image, self.loaded.spec, digest=image.digest)
        view = self.tasks.overview(self.loaded, inp)
        cam = next(c for c in self.tasks.top_k(self.loaded, inp, layer=view.layers[0])
                   if c.target == view.prediction.top1)
        return Reference(self.loaded.spec.categories[view.prediction.top1], inp.crop, cam, self.figures)


@dataclass
class Tally:
    """Counts shared by the session threads (guarded by ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)
    survivor_failures: list[str] = field(default_factory=list)

    def add(self, kind: str, text: str) -> None:
        with self.lock:
            getattr(self, kind).append(text)


def connect(base: str, browser: Browser, timeout: float) -> Session:
    """What the frontend does: page, health check (XSRF cookie), websocket; ends on Explain."""
    for path in ("/", "/_stcore/health"):
        status = browser.get(base, path, timeout=timeout)
        if status != 200:
            raise RuntimeError(f"GET {path}: HTTP {status}")
    return open_session(base, page="explain", timeout=timeout, headers=browser.headers())


def cam_ok(run, name: str) -> bool:
    """No error, the sidebar shows this upload (its caption is markdown-escaped) and a Grad-CAM."""
    captions = [c.replace("\\", "") for c, _, _ in run.images]
    return not problems(run) and any(c.startswith(name) for c in captions) and \
        any(c.startswith(GRADCAM) for c in captions)


def cam_round(s: Session, photo: tuple[str, bytes], expected, timeout: float) -> str:
    """Upload on Explain, wait for the Grad-CAM, check it; '' when right. Then clear the photo."""
    name, data = photo
    s.page_hash = s.pages.get("explain", s.page_hash)
    s.upload(data, name)
    run = s.wait(has_cam, timeout)
    if not cam_ok(run, name):
        return f"error: {problems(run) or 'no Grad-CAM (connection closed?)'}"
    cmap = s.widgets["Colours"][2][0]  # the page's default colour map (its first option)
    why = check_cam(s, run, (expected.name, expected.overlay(cmap)))
    s.rerun(with_upload=False)  # leave the photo: the rest of the page stops, the server idles
    s.wait_finished(timeout)
    return f"wrong: {why}" if why else ""


def record(t: Tally, who: str, outcome: str, *, survivor: bool = False) -> None:
    if outcome.startswith("wrong"):
        t.add("wrong", f"{who}: {outcome}")
    elif outcome:
        t.add("errors", f"{who}: {outcome}")
    if outcome and survivor:
        t.add("survivor_failures", f"{who}: {outcome}")


def attempt(t: Tally, who: str, fn, *, survivor: bool = False) -> None:
    """Run ``fn()`` (returns an outcome string); any exception is an error for this student."""
    try:
        record(t, who, fn(), survivor=survivor)
    except Exception as exc:
        record(t, who, f"error: {type(exc).__name__}: {exc}", survivor=survivor)


def in_threads(n: int, fn, timeout: float) -> None:
    threads = [threading.Thread(target=fn, args=(i,), daemon=True) for i in range(n)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout)


def reconnect(base: str, browser: Browser, photo, expected, timeout: float) -> str:
    """A browser whose replica died: the frontend re-checks health, then opens a new websocket."""
    deadline = time.monotonic() + 30
    while browser.get(base, "/_stcore/health", timeout=timeout) != 200 or browser.replica != "r1":
        if time.monotonic() > deadline:
            return f"error: not re-pinned to the live replica (on {browser.replica!r})"
        time.sleep(0.2)
    s = connect(base, browser, timeout)
    try:
        return cam_round(s, photo, expected, timeout)
    finally:
        s.close()
