"""The issue's "done when" on EfficientNet-Lite0, offline, on every bundled photo: untargeted PGD at
ε = 2/255 flips it, targeted PGD at ε = 8/255 makes it say "toaster", and the downloaded 8-bit PNG,
reloaded through the app's own loader, still fools the model (20 attack steps + export per photo)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.conftest import assert_clean
from vizcore.adversarial import Normalised, attack
from vizcore.adversarial.export import canvas, export_png, pixels_of
from vizcore.core.images import load_image

SAMPLES = sorted((Path(__file__).resolve().parent.parent / "app" / "shell" / "samples").glob("*.jpg"))
TOASTER = 859


def test_there_are_four_bundled_photos() -> None:
    assert [p.stem for p in SAMPLES] == ["astronaut", "chelsea", "coffee", "rocket"]


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.stem)
def test_pgd_flips_targeted_reaches_toaster_and_png_stays_adversarial(lite0, path: Path) -> None:
    spec, model = lite0.spec, lite0.model
    image = load_image(path.read_bytes()).image
    x = pixels_of(image, spec)
    kw = dict(mean=spec.mean, std=spec.std)
    flip = attack(model, x, method="pgd", eps=2 / 255, steps=10, **kw)
    assert flip.success and flip.pred != flip.source, path.stem
    assert float(flip.delta.abs().max()) <= 2 / 255 + 1e-6
    toaster = attack(model, x, method="targeted", eps=8 / 255, steps=10, target=TOASTER, **kw)
    assert toaster.success and toaster.pred == TOASTER, path.stem
    for res in (flip, toaster):
        ex = export_png(model, res, image, spec)
        assert ex.success and ex.identical, ex.message
        assert ex.linf_levels <= round(res.eps * 255)
        # the file itself: an 8-bit RGB PNG of the resized photo; reloading it gives the model's answer
        png = Image.open(io.BytesIO(ex.png))
        assert png.format == "PNG" and png.mode == "RGB" and png.size == canvas(image, spec)[0].size
        back = pixels_of(load_image(ex.png).image, spec)
        assert torch.equal(back, ex.pixels)
        pred = int(Normalised(model, spec.mean, spec.std)(back).argmax())
        assert pred == ex.pred and (pred == TOASTER if res.target is not None else pred != res.source)
    assert_clean(model)
