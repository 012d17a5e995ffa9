"""Adversarial attacks on EfficientNet-Lite0 (chelsea): cost of a PGD step, of the batched ε sweep, and
of our PGD against torchattacks' (same settings, interleaved runs, medians).

RESULT pgd_step_over_fwd_bwd (goal ≤ 1.15) · sweep8_over_single (goal ≤ 4) · ours_over_torchattacks
(goal ≤ 1.0; both produce the same thing — clean top-1, 10 PGD steps from a random start, the new
top-1 — so torchattacks is timed with the two forwards it needs for the label and the outcome) ·
loop_over_torchattacks_loop (the bare 10-step loops, no start, no label, for reference).
``--defences`` also prints what each input defence recovers on the bundled photos
(PGD and FGSM at ε = 2/255) and whether the attack through it breaks it again.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from models.registry import load_model  # noqa: E402
from vizcore.adversarial import Normalised, attack  # noqa: E402
from vizcore.adversarial.attacks import input_grad, iterate  # noqa: E402
from vizcore.adversarial.defences import Defence  # noqa: E402
from vizcore.adversarial.export import pixels_of  # noqa: E402
from vizcore.adversarial.robust import adaptive_attack, defended_predict  # noqa: E402
from vizcore.adversarial.sweep import eps_sweep  # noqa: E402
from vizcore.core.images import load_image  # noqa: E402

SAMPLES = sorted((ROOT / "app" / "shell" / "samples").glob("*.jpg"))
DEFENCES = (Defence("jpeg", 75), Defence("blur", 1.0), Defence("bits", 4), Defence("median", 3),
            Defence("resize_pad", 0.85, draws=10))


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def medians(fns: dict[str, Callable[[], object]], reps: int) -> dict[str, float]:
    """Median seconds of each function, runs interleaved so machine load hits all alike."""
    for fn in fns.values():
        fn()  # warm-up
    runs: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(reps):
        for k, fn in fns.items():
            runs[k].append(timed(fn))
    return {k: statistics.median(v) for k, v in runs.items()}


def speed(reps: int) -> dict[str, float]:
    import torchattacks

    loaded = load_model("efficientnet_lite0")
    spec, model = loaded.spec, loaded.model
    x = pixels_of(load_image((ROOT / "app/shell/samples/chelsea.jpg").read_bytes()).image, spec)
    kw = dict(mean=spec.mean, std=spec.std)
    fn = Normalised(model, spec.mean, spec.std)
    label = fn(x).argmax(1)
    eps, steps = 2 / 255, 10
    alpha = 2.5 * eps / steps
    ta = torchattacks.PGD(fn, eps=eps, alpha=alpha, steps=steps, random_start=True)
    ta_loop = torchattacks.PGD(fn, eps=eps, alpha=alpha, steps=steps, random_start=False)

    def torchattacks_same_result() -> tuple[torch.Tensor, int]:
        """What ``attack`` returns, with torchattacks: the label (clean top-1), the PGD, the new top-1."""
        with torch.no_grad():
            y = fn(x).argmax(1)
        adv = ta(x, y)
        with torch.no_grad():
            return adv, int(fn(adv).argmax())

    t = medians({
        "fwd_bwd": lambda: input_grad(fn, x, label, targeted=False),
        "steps10": lambda: iterate(fn, x, label, eps=eps, step=alpha, steps=steps),
        "ours": lambda: attack(model, x, method="pgd", eps=eps, steps=steps, **kw),
        "torchattacks": torchattacks_same_result,
        "torchattacks_loop_only": lambda: ta_loop(x, label),
        "sweep8": lambda: eps_sweep(model, x, method="pgd", steps=steps, **kw),
    }, reps)
    print(f"seconds (median of {reps}): " + ", ".join(f"{k}={v:.3f}" for k, v in t.items()))
    return {"pgd_step_over_fwd_bwd": t["steps10"] / steps / t["fwd_bwd"],
            "sweep8_over_single": t["sweep8"] / t["ours"],
            "ours_over_torchattacks": t["ours"] / t["torchattacks"],
            "loop_over_torchattacks_loop": t["steps10"] / t["torchattacks_loop_only"]}


def defence_table() -> None:
    """What each defence recovers on the bundled photos, its clean cost, and the attack through it."""
    loaded = load_model("efficientnet_lite0")
    spec, model = loaded.spec, loaded.model
    kw = dict(mean=spec.mean, std=spec.std)
    for path in SAMPLES:
        x = pixels_of(load_image(path.read_bytes()).image, spec)
        for method in ("pgd", "fgsm"):
            res = attack(model, x, method=method, eps=2 / 255, **kw)
            for d in DEFENCES:
                clean = defended_predict(model, x, defence=d, **kw)
                adv = defended_predict(model, res.pixels, defence=d, **kw)
                line = (f"DEFENCE photo={path.stem} attack={method} fooled={res.success} defence={d.kind} "
                        f"clean_kept={clean.pred == res.source} recovered={adv.pred == res.source}")
                if method == "pgd":
                    through = adaptive_attack(model, x, defence=d, eps=2 / 255, steps=10, **kw)
                    line += f" broken_again={through.success}"
                print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--defences", action="store_true", help="also print the defence table (slow)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    ratios = speed(args.reps)
    if args.defences:
        defence_table()
    print("RESULT " + " ".join(f"{k}={v:.3f}" for k, v in ratios.items()))


if __name__ == "__main__":
    main()
