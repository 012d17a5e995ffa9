"""Thirty threads share one model through the gate and lock: same answers as alone, no hooks left."""

from __future__ import annotations

import threading

from PIL import Image, ImageOps

from app.predict.tasks import prediction
from tests.conftest import assert_clean
from vizcore.core.gate import Gate
from vizcore.core.images import LoadedImage, digest


def variants(images: list[Image.Image], n: int) -> list[LoadedImage]:
    out = []
    for i in range(n):
        img = images[i % len(images)]
        k = i // len(images)
        img = ImageOps.mirror(img) if k % 2 else img
        img = img.rotate(10 * k, expand=True) if k else img
        out.append(LoadedImage(img, digest(img.tobytes()), img.size, "PNG"))
    return out


def test_thirty_threads_get_single_thread_results(lite0, chelsea, coffee) -> None:
    from tests.conftest import photo_bytes
    from vizcore.core.images import load_image

    others = [load_image(photo_bytes(n)).image for n in ("rocket", "astronaut")]
    photos = [chelsea.image, coffee.image, *others]
    images = variants(photos, 30)
    alone = [prediction(lite0, img) for img in images]
    gate = Gate(2)
    results: list[object] = [None] * len(images)
    errors: list[BaseException] = []
    start = threading.Barrier(len(images))

    def work(i: int) -> None:
        try:
            start.wait()
            with gate.hold(), lite0.lock:
                results[i] = prediction(lite0, images[i])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(images))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    for a, b in zip(alone, results, strict=True):
        assert a.indices == b.indices
        assert max(abs(p - q) for p, q in zip(a.probs, b.probs, strict=True)) < 1e-5
    assert len({r.indices for r in results}) > 4  # the images really differ
    assert_clean(lite0.model)
    assert gate.running == 0 and gate.waiting == 0
