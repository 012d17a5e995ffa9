"""Two shared-server measurements for ``bench/load.py`` (issue 13):

* ``hostile_peak_rss_mb`` — 30 sessions upload the tiny-but-huge files at once (6300² float32 TIFF,
  16-bit grey PNG, RGBA PNG, a few hundred KB each); the server's peak RSS above its baseline
  (sampled every 20 ms), and how far above the baseline it settles afterwards (goal: peak ≤ 1.5 GB
  above, back within 10 %);
* ``predict_during_featvis_over_alone`` — a Predict on a new photo while another session (a real
  Chromium tab) runs the largest feature-visualisation job the page allows, over the same Predict on
  an idle server (goal ≤ 3).
"""

from __future__ import annotations

import io
import statistics
import threading
import time

import numpy as np
from PIL import Image

from bench.loadclient import Run, open_session

SIDE = 6300


def hostile_files() -> list[tuple[str, bytes]]:
    """The three tiny-but-huge uploads of issue 13, finding 2."""
    out = []
    arr = np.zeros((SIDE, SIDE), np.float32)
    arr[::97] = 1.5
    buf = io.BytesIO()
    Image.fromarray(arr, mode="F").save(buf, "TIFF", compression="tiff_deflate")
    out.append(("float32.tif", buf.getvalue()))
    del arr
    grey = np.zeros((SIDE, SIDE), np.uint16)
    grey[:, ::89] = 40000
    buf = io.BytesIO()
    Image.fromarray(grey).save(buf, "PNG")
    out.append(("grey16.png", buf.getvalue()))
    del grey
    buf = io.BytesIO()
    Image.new("RGBA", (SIDE, SIDE), (200, 30, 30, 128)).save(buf, "PNG")
    out.append(("rgba.png", buf.getvalue()))
    return out


class Sampler:
    """RSS of the server process every ``every`` seconds, in a thread."""

    def __init__(self, rss, every: float = 0.02) -> None:
        self.rss, self.every, self.samples = rss, every, []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.rss())
            time.sleep(self.every)

    def stop(self) -> list[float]:
        self._stop.set()
        self._t.join()
        return self.samples


def hostile(server, sessions: int, timeout: float) -> dict[str, float]:
    """``sessions`` sessions upload the hostile files at once; peak and settled RSS above baseline."""
    files = hostile_files()
    print(f"hostile files: {', '.join(f'{n} {len(d) // 1024} KB' for n, d in files)}", flush=True)
    clients = [open_session(server.url, timeout=timeout) for _ in range(sessions)]
    time.sleep(1.0)
    base = statistics.median(server.rss_mb() for _ in range(5))
    sampler = Sampler(server.rss_mb)
    barrier = threading.Barrier(sessions)
    outcomes: list[str] = []
    reasons: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        name, data = files[i % len(files)]
        s = clients[i]
        try:
            barrier.wait(timeout=60)
            s.upload(data, f"{i:02d}-{name}")
            run: Run = s.wait_finished(timeout)
            shown = [b for k, b in run.alerts if k == "error"]
            with lock:
                outcomes.append("refused" if shown else "accepted")
                if shown:
                    reasons.append(shown[0].split("was not accepted: ")[-1][:90])
        except Exception as exc:  # a dropped session counts as a problem
            with lock:
                outcomes.append(f"error {type(exc).__name__}: {exc}")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 60)
    time.sleep(3.0)
    samples = sampler.stop()
    for s in clients:
        s.close()
    time.sleep(2.0)
    after = statistics.median(server.rss_mb() for _ in range(5))
    peak = max(samples)
    errors = [o for o in outcomes if o.startswith("error")]
    print(f"hostile: {sessions} sessions, {outcomes.count('accepted')} accepted, "
          f"{outcomes.count('refused')} refused (with our message), {len(errors)} errors; RSS baseline "
          f"{base:.0f} MB, peak {peak:.0f} MB (+{peak - base:.0f}), after {after:.0f} MB", flush=True)
    for reason in sorted(set(reasons)):
        print(f"  refused ×{reasons.count(reason)}: {reason}")
    for e in errors[:5]:
        print(f"  problem: {e}")
    return {"peak": peak - base, "after_pct": 100 * (after - base) / base, "errors": len(errors)}


def _predict_once(url: str, data: bytes, name: str, timeout: float) -> float:
    s = open_session(url, timeout=timeout)
    try:
        t0 = time.monotonic()
        s.upload(data, name)
        run = s.wait_finished(timeout)  # the whole Predict page, prediction included
        dt = time.monotonic() - t0
        if not any(c.startswith(name) for c, _, _ in run.images):
            raise RuntimeError(f"predict did not show {name}: {run.alerts[:3]}")
        return dt
    finally:
        s.close()


def start_biggest_featvis(url: str, stop: threading.Event, started: threading.Event,
                          state: dict[str, object]) -> None:
    """A Chromium tab: Layer atlas, 16 channels, 288 px, 96 steps (16·96·(288/128)² = 7776 of the
    8192 work units one click may start), press Run; keeps the tab open until ``stop``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url + "/feature_vis", wait_until="domcontentloaded")
            page.wait_for_selector("text=Press Run", timeout=300_000)
            page.get_by_text("Layer atlas", exact=True).click()
            page.wait_for_selector("text=Channels in the atlas", timeout=120_000)
            page.locator('[data-testid="stExpander"] summary', has_text="Advanced").click()
            ranges = page.locator('[data-testid="stExpanderDetails"] input[type="range"]')
            ranges.first.wait_for(state="attached", timeout=30_000)
            ranges.nth(0).press("Home")
            for _ in range(5):
                ranges.nth(0).press("ArrowRight")  # 16 → 96 steps
            ranges.nth(1).press("End")  # 288 px
            page.wait_for_selector("text=96 steps at 288 px", timeout=120_000)
            page.get_by_role("button", name="▶ Run").click()
            page.wait_for_selector("text=Gradient ascent: step", timeout=600_000)
            state["running"] = True
            started.set()
            stop.wait(900)
            text = page.locator('[data-testid="stMain"]').inner_text()
            state["still_running"] = "Gradient ascent: step" in text
        except Exception as exc:  # reported: the ratio is then not measured against a running job
            state["error"] = f"{type(exc).__name__}: {str(exc)[:200]}"
        finally:
            started.set()
            browser.close()


def predict_during_featvis(url: str, photos: list[tuple[str, bytes]], timeout: float) -> float:
    """Median Predict (new photo) while the biggest allowed featvis job runs, over alone."""
    alone = [_predict_once(url, d, n, timeout) for n, d in photos[:3]]
    stop, started = threading.Event(), threading.Event()
    state: dict[str, object] = {}
    t = threading.Thread(target=start_biggest_featvis, args=(url, stop, started, state), daemon=True)
    t.start()
    started.wait(900)
    during = [_predict_once(url, d, n, timeout) for n, d in photos[3:6]]
    stop.set()
    t.join(60)
    print(f"feature visualisation job: {state}", flush=True)
    if not (state.get("running") and state.get("still_running")):
        print("  problem: the feature visualisation was not running during all Predicts", flush=True)
        return float("nan")
    ratio = statistics.median(during) / statistics.median(alone)
    print(f"predict alone {', '.join(f'{x:.2f}' for x in alone)} s; during the biggest feature "
          f"visualisation {', '.join(f'{x:.2f}' for x in during)} s; ratio {ratio:.2f}", flush=True)
    return ratio
