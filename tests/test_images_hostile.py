"""Tiny files that decode huge: peak memory of one decode, measured in a fresh subprocess, stays
≤ 300 MB above the process's baseline, and a refusal names the limit (issue 13, finding 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vizcore.core import images
from vizcore.core.images import ImageError, load_image

ROOT = Path(__file__).resolve().parent.parent
SIDE = 6300
PEAK_LIMIT_MB = 300

MEASURE = r"""
import json, sys
sys.path.insert(0, sys.argv[1])
from vizcore.core.images import ImageError, load_image
def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024
data = open(sys.argv[2], "rb").read()
import io
from PIL import Image
buf = io.BytesIO(); Image.new("RGB", (32, 32)).save(buf, "PNG"); load_image(buf.getvalue())  # warm up
base = status("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # reset the peak (VmHWM) to the current RSS
try:
    img = load_image(data)
    outcome = f"accepted {img.size}"
except ImageError as exc:
    outcome = f"refused: {exc}"
print(json.dumps({"peak_mb": status("VmHWM:") - base, "outcome": outcome}))
"""


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The issue's three tiny-but-huge files (6300×6300, each a few hundred KB)."""
    d = tmp_path_factory.mktemp("hostile")
    out = {"float32.tif": d / "float32.tif", "grey16.png": d / "grey16.png", "rgba.png": d / "rgba.png"}
    arr = np.zeros((SIDE, SIDE), np.float32)
    arr[::97, :] = 1.5
    Image.fromarray(arr, mode="F").save(out["float32.tif"], compression="tiff_deflate")
    del arr
    grey = np.zeros((SIDE, SIDE), np.uint16)
    grey[:, ::89] = 40000
    Image.fromarray(grey).save(out["grey16.png"])
    del grey
    rgba = Image.new("RGBA", (SIDE, SIDE), (200, 30, 30, 128))
    rgba.save(out["rgba.png"])
    for p in out.values():
        assert p.stat().st_size < 2_000_000, (p, p.stat().st_size)
    return out


def measure(path: Path) -> dict[str, object]:
    res = subprocess.run([sys.executable, "-c", MEASURE, str(ROOT), str(path)], capture_output=True,
                         text=True, timeout=300, check=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", ["float32.tif", "grey16.png", "rgba.png"])
def test_peak_memory_of_one_decode_is_bounded(hostile: dict[str, Path], name: str) -> None:
    got = measure(hostile[name])
    assert got["peak_mb"] <= PEAK_LIMIT_MB, got
    if name == "rgba.png":  # within the general budget: decoded, reduced, composited onto white
        assert str(got["outcome"]).startswith("accepted (1024, 1024)"), got
    else:  # over the 16-bit / float budget: refused before decoding, naming the limit
        assert "the limit is 96 MB" in str(got["outcome"]), got


def test_rgba_result_is_the_composite_onto_white(hostile: dict[str, Path]) -> None:
    img = load_image(hostile["rgba.png"].read_bytes())
    assert img.original_size == (SIDE, SIDE) and img.size == (1024, 1024)
    # (200, 30, 30) at alpha 128 over white = 255 - (255 - c) * 128 / 255
    want = [round(255 - (255 - c) * 128 / 255) for c in (200, 30, 30)]
    got = np.asarray(img.image)[500, 500]
    assert np.abs(got.astype(int) - want).max() <= 1, (got, want)
    assert any("Downscaled from 6300×6300" in n for n in img.notices)


def test_highbit_image_within_budget_is_rescaled_in_float32() -> None:
    arr = np.zeros((3000, 2000), np.uint16)
    arr[:, 1000:] = 65535
    arr[0, 0] = 1000
    import io

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG")
    img = load_image(buf.getvalue())
    assert img.size == (683, 1024) or max(img.size) == 1024
    px = np.asarray(img.image)
    assert px[-1, -1].tolist() == [255, 255, 255] and px[-1, 0].tolist() == [0, 0, 0]


def test_float_image_with_nan_and_inf_is_finite() -> None:
    import io

    arr = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    arr[0, 0], arr[0, 1] = np.nan, np.inf
    buf = io.BytesIO()
    Image.fromarray(arr, mode="F").save(buf, "TIFF")
    px = np.asarray(load_image(buf.getvalue()).image)
    assert px.min() == 0 and px.max() == 255


def test_pillow_bomb_limit_matches_ours() -> None:
    assert Image.MAX_IMAGE_PIXELS == images.MAX_PIXELS


def test_decodes_wait_for_a_free_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only ``DECODE_SLOTS`` decodes run at once; a decode that cannot get a slot says so."""
    import io

    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "PNG")
    monkeypatch.setattr(images, "DECODE_WAIT_S", 0.05)
    taken = [images._SLOTS.acquire(timeout=1) for _ in range(images.DECODE_SLOTS)]
    try:
        assert all(taken)
        with pytest.raises(ImageError, match="busy decoding"):
            load_image(buf.getvalue())
    finally:
        for _ in taken:
            images._SLOTS.release()
    assert load_image(buf.getvalue()).size == (64, 64)
    # and concurrent decodes all succeed
    errs: list[BaseException] = []

    def one() -> None:
        try:
            load_image(buf.getvalue())
        except BaseException as exc:  # pragma: no cover - reported below
            errs.append(exc)

    monkeypatch.setattr(images, "DECODE_WAIT_S", 30.0)
    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errs
