"""Benchmark: build the full classroom-lab animation for a 16×16 RGB input, 3×3 kernel, padding 1.

Prints the step-plan and figure build times (median of 5 runs, after one warm-up), the figure JSON
size and the ratios to the issue's budget (≤ 300 ms, ≤ 1 MB). The figure is built once per settings
(cached as JSON text by ``app.lab.tasks.figure``); a rerun only wraps that text into the player
page (``rerun_ms``). Stepping costs no server rerun: the browser animates the prepared frames.
Last line: ``RESULT build_ms=<x> figure_kb=<y> rerun_ms=<z>``.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from app.lab.figures import forward_figure
from app.lab.player import player_html
from vizcore.lab.stepping import conv_steps

torch.set_num_threads(2)
BUDGET_MS, BUDGET_KB = 300.0, 1024.0


def build() -> tuple[float, float, float, int, int, float]:
    rng = np.random.default_rng(0)
    x, w, b = rng.random((3, 16, 16)), rng.standard_normal((1, 3, 3, 3)), np.array([0.1])
    t0 = time.perf_counter()
    plan = conv_steps(x, w, b, stride=1, padding=1)
    t1 = time.perf_counter()
    spec = forward_figure(plan, ("R", "G", "B"), relu=True)
    text = json.dumps(spec, separators=(",", ":"))
    t2 = time.perf_counter()
    player_html(text, plotly_src="app/static/plotly.min.js")  # what a cached rerun does
    t3 = time.perf_counter()
    sizes = len(text) / 1024, len(plan), len(spec["frames"])
    return 1000 * (t1 - t0), 1000 * (t2 - t1), *sizes, 1000 * (t3 - t2)


def main() -> None:
    build()
    runs = [build() for _ in range(5)]
    plan_ms = statistics.median(r[0] for r in runs)
    fig_ms = statistics.median(r[1] for r in runs)
    total = statistics.median(r[0] + r[1] for r in runs)
    kb, steps, frames = runs[0][2], runs[0][3], runs[0][4]
    print(f"steps={steps} frames={frames} (16x16 RGB, 3x3, pad 1)")
    print(f"plan_ms={plan_ms:.1f} figure_ms={fig_ms:.1f} (figure incl. JSON serialisation)")
    print(f"build/budget={total / BUDGET_MS:.2f} json/budget={kb / BUDGET_KB:.2f}")
    rerun = statistics.median(r[5] for r in runs)
    print(f"rerun_ms={rerun:.1f} (cached figure JSON → player page; before: the figure was rebuilt "
          "and JSON → dict → JSON on every rerun)")
    print(f"RESULT build_ms={total:.0f} figure_kb={kb:.0f} rerun_ms={rerun:.1f}")


if __name__ == "__main__":
    main()
