"""Benchmark for the "Inside the network" pages.

* all-layer activation capture (every spatial layer, one forward, copies kept) / plain forward;
* bytes of the feature-map mosaic PNG for a 64-channel (or larger) layer.

Run: ``.venv/bin/python bench/inside.py``; the last line is ``RESULT capture_over_forward=<x> mosaic_kb=<y>``.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.figures.inside import feature_mosaic  # noqa: E402
from models.registry import load_model  # noqa: E402
from vizcore.features import capture_all, feature_maps, spatial_layers  # noqa: E402
from vizcore.images import load_image  # noqa: E402
from vizcore.preprocess import to_input  # noqa: E402
from vizcore.receptive import trace_model  # noqa: E402

REPEATS = 7


def _median_time(fn, repeats: int = REPEATS) -> float:  # noqa: ANN001
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    torch.set_num_threads(2)
    loaded = load_model("efficientnet_lite0")
    model = loaded.model
    image = load_image((ROOT / "app" / "samples" / "chelsea.jpg").read_bytes())
    x = to_input(image.image, loaded.spec)
    trace = trace_model(model)
    layers = spatial_layers(trace)

    def plain() -> None:
        with torch.no_grad():
            model(x)

    t_plain = _median_time(plain)
    big = next(n for n in layers if trace.layer_shape[n][0] >= 64)
    t_page = _median_time(lambda: feature_maps(model, x, big, trace=trace))
    t_keep = _median_time(lambda: capture_all(model, x, layers, copy=trace.modified_later))
    ratio = t_page / t_plain
    print(f"plain forward {1000 * t_plain:.1f} ms")
    print(f"feature-map page pass (all {len(layers)} spatial layers observed in one forward: range of "
          f"each, best channel of each stage, all maps of {big}) {1000 * t_page:.1f} ms · "
          f"ratio {ratio:.2f}")
    print(f"capture_all keeping all {len(layers)} outputs alive {1000 * t_keep:.1f} ms · "
          f"ratio {t_keep / t_plain:.2f} (extra memory, not what the page does)")

    fm = feature_maps(model, x, big, trace=trace)
    sizes = {}
    for mode in ("per map", "per layer", "global"):
        png = feature_mosaic(fm, norm=mode, sort="mean")
        sizes[mode] = len(png) / 1024
        print(f"mosaic {big} {trace.layer_shape[big]} norm={mode!r}: {sizes[mode]:.1f} KB")
    print(f"RESULT capture_over_forward={ratio:.2f} mosaic_kb={max(sizes.values()):.1f}")


if __name__ == "__main__":
    main()
