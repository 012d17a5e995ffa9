"""Classroom scale, CI size: 8 concurrent sessions of mixed work through the app's gate + lock path.

Every page's task functions run through ``vizcore.core.gate.Gate`` and ``loaded.lock`` exactly as
``app.shell.resources.compute`` runs them (gate slot first, then the model lock, then ``fn(loaded, image,
**params)``); each result must equal the same request run alone, and afterwards no hook, no
``.grad``, no training flag or ``requires_grad`` may have changed. Two models are shared so that two
computations really run at once (one per model lock).
"""

from __future__ import annotations

import dataclasses
import importlib
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageOps

from app.explain import tasks as explain
from app.inside import tasks as inside
from app.lab import tasks as lab
from app.predict import tasks as predict
from models.registry import LoadedModel, load_model
from tests.conftest import assert_clean, photo_bytes
from vizcore.core.gate import Gate
from vizcore.core.images import LoadedImage, digest, load_image
from vizcore.lab.settings import LabSettings

THREADS = 8
actmax = importlib.import_module("app.featvis.tasks")
LAB = dict(grid=8, rgb=True, centre=(0.5, 0.5), side=96, source="preset", preset_name="Sobel x",
           custom=(), k=3, filter_index=0, fold_bn=True, stride=1, padding=0, dilation=1, channel=0)


def run_like_compute(gate: Gate, fn: Callable[..., Any], loaded: LoadedModel,
                     image: LoadedImage | None, /, **params: Any) -> Any:
    """The path ``resources.compute`` takes on a cache miss: a gate slot, the model lock, the call."""
    with gate.hold(timeout=120.0, on_wait=lambda _pos: None, poll=0.05), loaded.lock:
        return fn(loaded, image, **params)


def same(a: Any, b: Any, where: str = "result") -> None:
    """Assert two task results are equal (arrays to float tolerance; timings ignored)."""
    if dataclasses.is_dataclass(a) and not isinstance(a, type):
        assert type(a) is type(b), where
        for f in dataclasses.fields(a):
            if f.name not in ("seconds",):
                same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, np.ndarray | Image.Image):
        x, y = np.asarray(a), np.asarray(b)
        assert x.shape == y.shape and x.dtype == y.dtype, where
        if x.dtype.kind in "fc":
            scale = max(1.0, float(np.abs(x).max(initial=0.0)))
            np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5 * scale, err_msg=where)
        else:
            np.testing.assert_array_equal(x, y, err_msg=where)
    elif isinstance(a, tuple | list):
        assert type(a) is type(b) and len(a) == len(b), where
        for i, (p, q) in enumerate(zip(a, b, strict=True)):
            same(p, q, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            same(a[k], b[k], f"{where}[{k!r}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-4, abs=1e-6), where
    else:
        assert a == b, where


def state(model: Any) -> tuple[tuple[bool, ...], tuple[bool, ...]]:
    return (tuple(m.training for m in model.modules()), tuple(p.requires_grad for p in model.parameters()))


def photos(n: int) -> list[LoadedImage]:
    """``n`` distinct photos (mirrored / rotated scikit-image samples)."""
    base = [load_image(photo_bytes(p)).image for p in ("chelsea", "coffee", "rocket", "astronaut")]
    out = []
    for i in range(n):
        img, k = base[i % len(base)], i // len(base)
        img = img.rotate(8 * k) if k else img
        img = ImageOps.mirror(img) if k % 2 else img
        out.append(LoadedImage(img, digest(img.tobytes()), img.size, "PNG"))
    return out


def jobs(lite0: LoadedModel, r18: LoadedModel, imgs: list[LoadedImage]) -> list[tuple[Any, ...]]:
    """Mixed work of every page: (fn, model, image, params)."""
    mid = lite0.spec.default_layer
    out: list[tuple[Any, ...]] = [
        (predict.prediction, lite0, imgs[0], {"k": 5}),
        (explain.overview, lite0, imgs[1], {}),
        (explain.top_k, lite0, imgs[2], {"layer": mid, "k": 3}),
        (explain.method_view, lite0, imgs[3], dict(method="gradcam", layer=mid, target=281, faithful=False)),
        (explain.method_view, lite0, imgs[4], dict(method="gradcam++", layer="_blocks.10._project_conv",
                                                   target=504, faithful=False)),
        (explain.method_view, lite0, imgs[5], dict(method="layercam", layer="_blocks.4._project_conv",
                                                   target=967, faithful=True, steps=3)),
        (explain.method_view, lite0, imgs[6], dict(method="saliency", layer=mid, target=1, faithful=False)),
        (inside.maps, lite0, imgs[7], {"layer": "_blocks.5._project_conv"}),
        (inside.filters, lite0, None, {"layer": "_conv_stem"}),
        (inside.erf, lite0, imgs[0], dict(layer="_blocks.8._project_conv", row=7, col=7, channel=-1)),
        (lab.lab, lite0, imgs[1], {"settings": LabSettings(**dict(LAB, op="conv", source="learned"))}),
        (lab.lab, lite0, imgs[2], {"settings": LabSettings(**dict(LAB, op="max", k=2, stride=2))}),
        (explain.method_view, r18, imgs[0], dict(method="gradcam", layer="layer4", target=3, faithful=False)),
        (explain.method_view, r18, imgs[1], dict(method="xgradcam", layer="layer3", target=7,
                                                 faithful=False)),
        (inside.maps, r18, imgs[2], {"layer": "layer2"}),
        (predict.prediction, r18, imgs[3], {"k": 5}),
    ]
    # the Feature-visualisation page: exemplars + a short optimisation
    photos_ = tuple(photo_bytes(p, "JPEG") for p in ("chelsea", "coffee", "rocket"))
    pixels = np.stack([actmax.photo_pixels(p, lite0) for p in photos_])
    out += [(actmax.exemplar_set, lite0, None, dict(pixels=pixels, layer="_blocks.3._project_conv",
                                                     channel=5, k=2)),
            (feature_vis, lite0, None, dict(layer="_blocks.2._project_conv", channel=3)),
            (feature_vis, r18, None, dict(layer="layer1", channel=7))]
    return out


def feature_vis(loaded: LoadedModel, _image: LoadedImage | None, *, layer: str, channel: int) -> Any:
    """A tiny seeded feature visualisation, as the page runs it, one ``resources.model_turn`` per step."""
    from vizcore.featvis import Settings, Target

    return actmax.optimise(loaded, Target("channel", layer, (channel,)),
                           Settings(size=48, steps=12, seed=channel))


@pytest.fixture(scope="module")
def r18() -> LoadedModel:
    return load_model("resnet18", trained=False)


def test_eight_sessions_of_mixed_work_equal_alone(lite0: LoadedModel, r18: LoadedModel, tmp_path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    work = jobs(lite0, r18, photos(8))
    before = {id(m): state(m.model) for m in (lite0, r18)}
    monkeypatch.setenv("CNN_LENS_CACHE", str(tmp_path / "alone"))  # feature vis: nothing on disk
    alone = [fn(m, img, **p) for fn, m, img, p in work]
    monkeypatch.setenv("CNN_LENS_CACHE", str(tmp_path / "together"))  # ... so both really compute
    for m in (lite0, r18):
        assert_clean(m.model)

    gate = Gate(2)
    results: list[Any] = [None] * len(work)
    errors: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def session(t: int) -> None:  # each "student" takes every THREADS-th request, in its own order
        try:
            start.wait(timeout=60)
            mine = list(range(t, len(work), THREADS))
            for i in mine[::-1] if t % 2 else mine:
                fn, m, img, p = work[i]
                results[i] = run_like_compute(gate, fn, m, img, **p)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(t,)) for t in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a session hung"
    assert not errors, errors
    for (fn, *_), a, b in zip(work, alone, results, strict=True):
        same(a, b, fn.__qualname__)
    assert gate.running == 0 and gate.waiting == 0
    for m in (lite0, r18):
        assert_clean(m.model)
        assert state(m.model) == before[id(m)]
        assert m.lock.acquire(blocking=False)
        m.lock.release()
