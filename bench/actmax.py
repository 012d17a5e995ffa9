"""Feature visualisation: ours vs Lucent's ``render_vis`` on EfficientNet-Lite0, one run.

Both images are scored the same way: the un-transformed 224 px image, normalised, one forward up to
the layer, mean activation of the channel. Lucent (``pip install torch-lucent``) is a benchmark-only
dependency; without it only our numbers are printed.

    .venv/bin/python bench/actmax.py [--layer _blocks.8] [--channel 10] [--steps 64] [--lr 0.1]
"""

from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.registry import load_model
from vizcore.core.hooks import capture, frozen, run_until
from vizcore.featvis import Settings, Target, render

SIZE = 224


def score(model: torch.nn.Module, images: np.ndarray, layer: str, channel: int,
          mean: tuple[float, ...], std: tuple[float, ...]) -> float:
    """Mean activation of ``channel`` for (B, S, S, 3) images in [0, 1] (mean over the batch)."""
    x = torch.as_tensor(np.asarray(images, dtype=np.float32)).permute(0, 3, 1, 2)
    x = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad(), frozen(model), capture(model, [layer], stop_after=True) as store:
        run_until(model, x)
        return float(store[layer][:, channel].mean())


def lucent_run(model: torch.nn.Module, layer: str, channel: int, steps: int) -> tuple[np.ndarray, float]:
    """Lucent's ``render_vis`` at 224 px on a private copy of the model (Lucent never removes its
    hooks). Returns the final image (1, S, S, 3) and wall time."""
    from lucent.optvis import param, render

    net = copy.deepcopy(model).eval()
    name = layer.replace(".", "_")  # lucent joins module paths with underscores
    torch.manual_seed(0)
    np.random.seed(0)
    t0 = time.perf_counter()
    out = render.render_vis(net, f"{name}:{channel}", param_f=lambda: param.image(SIZE),
                            thresholds=(steps,), show_image=False, progress=False)
    return np.asarray(out[-1]), time.perf_counter() - t0


def main() -> None:
    """Run both, print both and the ratios; last line is the RESULT line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layer", default="_blocks.8")
    ap.add_argument("--channel", type=int, default=10)
    ap.add_argument("--steps", type=int, default=48, help="our steps (Lucent always runs 256)")
    ap.add_argument("--lr", type=float, default=0.08)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    loaded = load_model("efficientnet_lite0")
    model, spec = loaded.model, loaded.spec

    settings = Settings(size=SIZE, steps=args.steps, lr=args.lr, seed=0)
    render(model, Target("channel", args.layer, (args.channel,)), mean=spec.mean, std=spec.std,
           settings=Settings(size=SIZE, steps=2))  # warm-up (allocator, kernels)
    t0 = time.perf_counter()
    ours = render(model, Target("channel", args.layer, (args.channel,)), mean=spec.mean, std=spec.std,
                  settings=settings)
    t_ours = time.perf_counter() - t0
    a_ours = score(model, ours.images.astype(np.float32) / 255, args.layer, args.channel,
                   spec.mean, spec.std)
    print(f"ours:   {args.layer}:{args.channel} {SIZE}px {args.steps} steps lr={args.lr} "
          f"activation={a_ours:.3f} time={t_ours:.2f}s")
    try:
        import lucent  # noqa: F401
    except ImportError:
        print("lucent: SKIPPED — torch-lucent is not installed (benchmark-only: "
              "`.venv/bin/pip install --no-deps torch-lucent kornia==0.4.1`)")
        print("RESULT act_vs_lucent=nan time_vs_lucent=nan")
        return
    img, t_luc = lucent_run(model, args.layer, args.channel, 256)
    a_luc = score(model, img, args.layer, args.channel, spec.mean, spec.std)
    print(f"lucent: {args.layer.replace('.', '_')}:{args.channel} {SIZE}px 256 steps lr=0.05 "
          f"activation={a_luc:.3f} time={t_luc:.2f}s")
    print(f"RESULT act_vs_lucent={a_ours / a_luc:.3f} time_vs_lucent={t_ours / t_luc:.3f}")


if __name__ == "__main__":
    main()
