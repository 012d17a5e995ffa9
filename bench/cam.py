"""Benchmark: Grad-CAM, top-5 Grad-CAM and captum's LayerGradCam against a plain forward.

Run: ``.venv/bin/python bench/cam.py``. Measures EfficientNet-Lite0 (pretrained) and ResNet-18 (random
weights: same cost) at 224×224 on 2 threads in one run; prints the median times and the ratios, and
as its last line the worst ratio over both models:
``RESULT gradcam_over_forward=<x> top5_over_forward=<y> captum_over_ours=<z> batch2_over_two_singles=<b>
explain_first_view_over_gradcam=<e>`` — ``batch2``: ``grad_cams`` on a batch of 2 vs two single calls;
``explain_first_view``: what the Explain page computes before its first Grad-CAM is shown (model input
from a photo, top-5 prediction, top-5 Grad-CAM) over one Grad-CAM.
captum is timed producing what ``grad_cam`` returns: ``LayerGradCam`` + ``LayerAttribution.interpolate``
to the input size. Run it on an otherwise idle machine: the ratios assume both cores are free.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from captum.attr import LayerAttribution, LayerGradCam  # noqa: E402

from app.explain import tasks  # noqa: E402
from models.registry import load_model  # noqa: E402
from vizcore.core.hooks import resolve_layer  # noqa: E402
from vizcore.core.images import LoadedImage  # noqa: E402
from vizcore.core.preprocess import model_input  # noqa: E402
from vizcore.explain.cam import grad_cam, gradient_cams, top_k_cams  # noqa: E402

REPEATS = 15


def median_time(fn: Callable[[], object], repeats: int = REPEATS) -> float:
    """Median wall time of ``fn`` after two warm-up calls."""
    fn()
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def first_view(loaded, photo: LoadedImage, layer: str) -> None:
    """The Explain page's work before the first Grad-CAM appears (no Streamlit, no cache)."""
    inp = model_input(photo.image, loaded.spec, digest=photo.digest)
    tasks.overview(loaded, inp)
    tasks.top_k(loaded, inp, layer=layer)


def measure(name: str, trained: bool) -> tuple[float, ...]:
    """(gradcam / forward, top5 / forward, captum / ours, batch2 / two singles, first view / gradcam)."""
    loaded = load_model(name, trained=trained)
    model, layer = loaded.model, loaded.spec.default_layer
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    x2 = torch.cat([x, x.flip(-1)])
    from PIL import Image

    pixels = (torch.rand(300, 451, 3, generator=torch.Generator().manual_seed(1)) * 255).byte().numpy()
    photo = LoadedImage(Image.fromarray(pixels), "bench-photo", (451, 300), "PNG")
    with torch.inference_mode():
        target = int(model(x).argmax())

    def forward() -> None:
        with torch.inference_mode():
            model(x)

    captum = LayerGradCam(model, resolve_layer(model, layer))
    # interleave the measurements so that machine load affects all of them alike
    results: dict[str, list[float]] = {k: [] for k in ("forward", "ours", "top5", "captum", "batch2",
                                                       "twice", "first")}
    fns = {
        "forward": forward,
        "ours": lambda: grad_cam(model, x, layer, target),
        "top5": lambda: top_k_cams(model, x, layer=layer, k=5),
        # the same output as ours: captum's map upsampled to the input (ours also returns the raw map)
        "captum": lambda: LayerAttribution.interpolate(
            captum.attribute(x, target=target, relu_attributions=True), (224, 224), "bilinear"),
        "batch2": lambda: gradient_cams(model, x2, layer=layer),
        "twice": lambda: (grad_cam(model, x2[:1], layer), grad_cam(model, x2[1:], layer)),
        "first": lambda: first_view(loaded, photo, layer),
    }
    for _ in range(3):
        for key, fn in fns.items():
            results[key].append(median_time(fn, REPEATS // 3))
    t = {k: min(v) for k, v in results.items()}
    print(f"{name:20s} forward {1000 * t['forward']:6.1f} ms · grad-cam {1000 * t['ours']:6.1f} ms · "
          f"top-5 {1000 * t['top5']:6.1f} ms · captum LayerGradCam {1000 * t['captum']:6.1f} ms")
    r = (t["ours"] / t["forward"], t["top5"] / t["forward"], t["captum"] / t["ours"],
         t["batch2"] / t["twice"], t["first"] / t["ours"])
    print(f"{name:20s} gradcam/forward {r[0]:.2f} · top5/forward {r[1]:.2f} · captum/ours {r[2]:.2f} · "
          f"batch2/two singles {r[3]:.2f} · Explain first view {1000 * t['first']:.0f} ms = {r[4]:.2f}× a "
          "Grad-CAM")
    return r


def main() -> None:
    torch.set_num_threads(2)
    rows = [measure("efficientnet_lite0", True), measure("resnet18", False)]
    g = max(r[0] for r in rows)
    k = max(r[1] for r in rows)
    c = min(r[2] for r in rows)
    b = max(r[3] for r in rows)
    e = max(r[4] for r in rows)
    print(f"RESULT gradcam_over_forward={g:.2f} top5_over_forward={k:.2f} captum_over_ours={c:.2f} "
          f"batch2_over_two_singles={b:.2f} explain_first_view_over_gradcam={e:.2f}")


if __name__ == "__main__":
    main()
