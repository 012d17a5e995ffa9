"""Benchmark for Architectures compared: CPU latency of every registry model and the cost of the
page's structure counting.

* latency: the page's own measurement (``measure_latency``: 2 warm-up runs, median of 5) of a
  private untrained build of each model, one image at its input size, the current torch threads;
  printed as a table with our MACs and MACs per millisecond;
* counting every model's parameters / MACs / depth on the ``meta`` device vs one forward of
  EfficientNet-Lite0 on the CPU (what the history chart costs on a cold server).

Run: ``.venv/bin/python bench/latency.py [--store]`` (``--store`` writes the latencies to
``$CNN_LENS_CACHE`` so the page shows them). The last line is ``RESULT vgg16_over_lite0=<x>
mobilenet_v3_over_lite0=<y> count_all_over_forward=<z>``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.registry import list_specs  # noqa: E402
from vizcore.architectures.catalog import build_on_meta, count_structure  # noqa: E402
from vizcore.architectures.latency import ArchStore, machine_label, measure_latency  # noqa: E402


def main() -> None:
    store = ArchStore() if "--store" in sys.argv else None
    print(f"machine: {machine_label()} · torch threads {torch.get_num_threads()} · "
          f"load average at start {os.getloadavg()[0]:.1f}")
    print(f"{'model':<22}{'input':>10}{'params M':>10}{'MACs G':>9}{'median ms':>11}{'MACs/ms M':>11}")
    medians: dict[str, float] = {}
    start = time.perf_counter()
    for spec in list_specs():
        shape = (1, getattr(spec, "channels", 3), spec.input_size, spec.input_size)
        s = count_structure(build_on_meta(spec.build), shape)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = spec.build().eval()
        lat = measure_latency(model, shape)
        del model
        medians[spec.name] = lat.median_ms
        if store is not None:
            store.put_latency(spec.name, shape, lat)
        print(f"{spec.display_name[:21]:<22}{'×'.join(map(str, shape[1:])):>10}{s.params / 1e6:>10.2f}"
              f"{s.macs / 1e9:>9.3f}{lat.median_ms:>11.1f}{s.macs / 1e6 / lat.median_ms:>11.1f}")
    print(f"(all latencies in {time.perf_counter() - start:.0f} s)")

    lite0 = next(s for s in list_specs() if s.name == "efficientnet_lite0")
    x = torch.zeros(1, 3, lite0.input_size, lite0.input_size)
    net = lite0.build().eval()
    with torch.inference_mode():
        net(x)
        t = time.perf_counter()
        net(x)
        forward = time.perf_counter() - t
    t = time.perf_counter()
    for spec in list_specs():
        count_structure(build_on_meta(spec.build),
                        (1, getattr(spec, "channels", 3), spec.input_size, spec.input_size))
    count_all = time.perf_counter() - t
    base = medians["efficientnet_lite0"]
    print(f"RESULT vgg16_over_lite0={medians.get('vgg16', float('nan')) / base:.2f} "
          f"mobilenet_v3_over_lite0={medians.get('mobilenet_v3_large', float('nan')) / base:.2f} "
          f"count_all_over_forward={count_all / forward:.1f}")


if __name__ == "__main__":
    main()
