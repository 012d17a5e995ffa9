"""Cold start and prediction latency of the real app.

Starts ``streamlit run app/main.py`` on a free port, opens it in headless Chromium and measures:
time to first paint (page title visible), time to first prediction (top-5 chart visible), the server's
peak RSS, and warm prediction latency (median of repeated in-process predictions, and as a ratio to a
plain forward). Prints ``RESULT first_paint_s=… first_prediction_s=… peak_rss_mb=… warm_predict_ms=…``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def cold_start() -> tuple[float, float, float, float]:
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.devserver import AppServer, free_port

    with tempfile.TemporaryDirectory() as tmp:
        server = AppServer(free_port(), tmp)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1600, "height": 1000})
                page.goto(server.url, wait_until="commit")
                page.wait_for_selector('[data-testid="stElementContainer"]', timeout=120_000)
                t_paint = time.perf_counter() - server.started
                page.wait_for_selector('[data-testid="stPlotlyChart"]', timeout=120_000)
                t_pred = time.perf_counter() - server.started
                browser.close()
            return server.healthy_after, t_paint, t_pred, server.peak_rss_mb()
        finally:
            server.stop()


def warm_latency() -> tuple[float, float]:
    import io

    import torch
    from PIL import Image

    from app.predict.tasks import prediction
    from models.registry import load_model
    from vizcore.core.images import load_image
    from vizcore.core.preprocess import to_input

    torch.set_num_threads(2)
    loaded = load_model("efficientnet_lite0")
    buf = io.BytesIO()
    Image.open(ROOT / "app/shell/samples/chelsea.jpg").save(buf, format="PNG")
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
