"""Cold start and prediction latency of the real app.

Starts ``streamlit run app/main.py`` on a free port, opens it in headless Chromium and measures:
time to first paint (page title visible), time to first prediction (top-5 chart visible), the server's
peak RSS, and warm prediction latency (median of repeated in-process predictions, and as a ratio to a
plain forward). Prints ``RESULT first_paint_s=… first_prediction_s=… peak_rss_mb=… warm_predict_ms=…``.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cold_start() -> tuple[float, float, float, float]:
    from playwright.sync_api import sync_playwright

    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(ROOT / "app/main.py"), "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        t_health = time.perf_counter() - t0
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}", wait_until="commit")
            page.wait_for_selector('[data-testid="stElementContainer"]', timeout=120_000)
            t_paint = time.perf_counter() - t0
            page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=120_000)
            t_pred = time.perf_counter() - t0
            browser.close()
        return t_health, t_paint, t_pred, peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def warm_latency() -> tuple[float, float]:
    import io

    import torch
    from PIL import Image

    from app.tasks.predict import prediction
    from models.registry import load_model
    from vizcore.images import load_image
    from vizcore.preprocess import to_input

    torch.set_num_threads(2)
    loaded = load_model("efficientnet_lite0")
    buf = io.BytesIO()
    Image.open(ROOT / "app/samples/chelsea.jpg").save(buf, format="PNG")
    image = load_image(buf.getvalue())
    x = to_input(image.image, loaded.spec)
    for _ in range(5):
        prediction(loaded, image)
    pred, fwd = [], []
    for _ in range(30):
        t = time.perf_counter()
        prediction(loaded, image)  # preprocessing + forward + softmax/top-k
        pred.append(time.perf_counter() - t)
        t = time.perf_counter()
        with torch.inference_mode():
            loaded.model(x)
        fwd.append(time.perf_counter() - t)
    return statistics.median(pred) * 1000, statistics.median(pred) / statistics.median(fwd)


def main() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "2")
    health, paint, pred, rss = cold_start()
    warm_ms, ratio = warm_latency()
    print(f"server healthy after {health:.2f} s")
    print(f"first paint after {paint:.2f} s, first prediction after {pred:.2f} s")
    print(f"server peak RSS {rss:.0f} MB")
    print(f"warm prediction {warm_ms:.1f} ms (= {ratio:.2f}× a plain forward)")
    print(f"RESULT first_paint_s={paint:.2f} first_prediction_s={pred:.2f} peak_rss_mb={rss:.0f} "
          f"warm_predict_ms={warm_ms:.1f}")


if __name__ == "__main__":
    main()
