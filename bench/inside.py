"""Benchmark for the "Inside the network" pages.

* all-layer activation capture (every spatial layer's output kept, one forward) / plain forward —
  the RESULT; also the feature-map page's own pass (the layer + the overview strip) and the
  "global" normalisation pass (min/max of every layer), each / plain forward;
* bytes of the feature-map mosaic PNG for a 64-channel (or larger) layer.

Run: ``.venv/bin/python bench/inside.py``; the last line is ``RESULT capture_over_forward=<x> mosaic_kb=<y>``.
"""

from __future__ import annotations

import base64
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.inside.figures import feature_mosaic  # noqa: E402
from models.registry import load_model  # noqa: E402
from vizcore.core.images import load_image  # noqa: E402
from vizcore.core.preprocess import to_input  # noqa: E402
from vizcore.inside.features import activation_range, capture_all, feature_maps, spatial_layers  # noqa: E402
from vizcore.inside.receptive import trace_model  # noqa: E402

REPEATS = 40


def _interleaved(fns: dict[str, Callable[[], object]], repeats: int = REPEATS) -> dict[str, float]:
    """Best-of-``repeats`` seconds per function, the functions taking turns (fair under load)."""
    for fn in fns.values():
        fn()  # warm-up
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def _cpu_seconds(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Process CPU time per call (all threads), less sensitive to other jobs than wall time."""
    t0 = time.process_time()
    for _ in range(repeats):
        fn()
    return (time.process_time() - t0) / repeats


def main() -> None:
    torch.set_num_threads(2)
    loaded = load_model("efficientnet_lite0")
    model = loaded.model
    image = load_image((ROOT / "app" / "shell" / "samples" / "chelsea.jpg").read_bytes())
    x = to_input(image.image, loaded.spec)
    trace = trace_model(model)
    layers = spatial_layers(trace)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    big = next(n for n in layers if trace.layer_shape[n][0] >= 64)
    variants = {
        "capture": lambda: capture_all(model, x, layers, copy=trace.modified_later),
        "page": lambda: feature_maps(model, x, big, trace=trace),
        "global": lambda: activation_range(model, x, layers),
    }
    t, ratio = {}, {}
    for name, fn in variants.items():  # each variant takes turns with its own plain forwards
        pair = _interleaved({"plain": plain, name: fn})
        t[name], ratio[name] = pair[name], pair[name] / pair["plain"]
        t["plain"] = min(t.get("plain", float("inf")), pair["plain"])
    print(f"plain forward {1000 * t['plain']:.1f} ms (best of {3 * REPEATS})")
    print(f"all-layer capture (all {len(layers)} spatial layers' outputs kept, one forward) "
          f"{1000 * t['capture']:.1f} ms · ratio {ratio['capture']:.2f}")
    print(f"feature-map page pass ({big} + the overview strip) {1000 * t['page']:.1f} ms · "
          f"ratio {ratio['page']:.2f}")
    print(f"'global' normalisation pass (min/max of all {len(layers)} layers) "
          f"{1000 * t['global']:.1f} ms · ratio {ratio['global']:.2f}")
    cpu_plain = _cpu_seconds(plain)
    cpu_capture = _cpu_seconds(lambda: capture_all(model, x, layers, copy=trace.modified_later))
    print(f"CPU time per call: plain {1000 * cpu_plain:.1f} ms, all-layer capture "
          f"{1000 * cpu_capture:.1f} ms · ratio {cpu_capture / cpu_plain:.2f}")

    fm = feature_maps(model, x, big, trace=trace)
    sizes = {}
    for mode in ("per map", "per layer", "global"):
        png = feature_mosaic(fm, norm=mode, sort="mean", global_range=activation_range(model, x, layers))
        sent = len(f"data:image/png;base64,{base64.b64encode(png).decode()}")  # what the page sends
        sizes[mode] = sent / 1024
        print(f"mosaic {big} {trace.layer_shape[big]} norm={mode!r}: PNG {len(png) / 1024:.1f} KB, "
              f"sent as a base64 data URL {sizes[mode]:.1f} KB")
    print(f"RESULT capture_over_forward={ratio['capture']:.2f} mosaic_kb={max(sizes.values()):.1f}")


if __name__ == "__main__":
    main()
