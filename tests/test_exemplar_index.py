"""Folder exemplar index: same answers as ``exemplars()``, streaming top-k, skips, storage on disk."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.registry import get_spec
from tests.conftest import assert_clean, photo_bytes
from tests.test_exemplars import red_detector
from vizcore.core.images import load_image
from vizcore.core.preprocess import resize_crop
from vizcore.featvis import exemplar_store as store_mod
from vizcore.featvis.exemplar_index import Skipped, build_index, check_layer, folder_files
from vizcore.featvis.exemplar_store import cache, list_sets, load_index, save_index
from vizcore.featvis.exemplars import Exemplars, exemplars

TINY = dataclasses.replace(get_spec("efficientnet_lite0"), name="tiny", input_size=32, resize_size=32,
                           mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))


def assert_same(a: Exemplars, b: Exemplars) -> None:
    """Same order, values, means, positions, boxes, images and patches."""
    assert (a.layer, a.channel, a.rf, a.map_size, a.n_images) == (b.layer, b.channel, b.rf, b.map_size,
                                                                  b.n_images)
    assert [e.index for e in a.top] == [e.index for e in b.top]
    for x, y in zip(a.top, b.top, strict=True):
        assert (x.value, x.mean, x.row, x.col, x.box) == (y.value, y.mean, y.row, y.col, y.box)
        np.testing.assert_array_equal(x.image, y.image)
        np.testing.assert_array_equal(x.patch, y.patch)


def red_dots(folder: Path) -> list[tuple[str, Path]]:
    """Eleven 32×32 PNGs with one red dot each; several are exact duplicates (full ties)."""
    folder.mkdir()
    dots = [(100, 5, 5), (200, 9, 20), (250, 30, 2), (200, 9, 20), (60, 16, 16), (250, 30, 2),
            (200, 9, 20), (10, 1, 1), (250, 30, 2), (0, 0, 0), (200, 9, 20)]
    files = []
    for i, (v, r, c) in enumerate(dots):
        px = np.zeros((32, 32, 3), np.uint8)
        px[r, c, 0] = v
        px[r, c, 2] = 255 - v  # blue: channel 1 (-red) stays 0; ties everywhere there
        p = folder / f"dot{i:02d}.png"
        Image.fromarray(px).save(p)
        files.append((p.name, p))
    return files


def test_streaming_top_k_equals_exemplars_with_ties_across_batches(tmp_path: Path) -> None:
    net, files = red_detector(), red_dots(tmp_path / "dots")
    pixels = np.stack([np.asarray(resize_crop(load_image(p.read_bytes()).image, TINY)) for _, p in files])
    for batch in (1, 3, 4, 16):
        idx = build_index(net, files, spec=TINY, trained=True, layer="0", name="dots", k=4, batch=batch)
        assert idx.n_images == 11 and idx.n_channels == 2 and idx.map_size == (16, 16)
        for ch in (0, 1):
            want = exemplars(net, pixels, layer="0", channel=ch, mean=TINY.mean, std=TINY.std, k=4)
            got = idx.exemplars(ch)
            assert_same(got, want)
            assert got.names == tuple(files[e.index][0] for e in want.top)
        # channel 0 (+red, before the ReLU): 250 ×3 (indices 2, 5, 8, exact ties → lower index
        # first), then the first of the four 200s (index 1)
        assert [e.index for e in idx.exemplars(0).top] == [2, 5, 8, 1]
        # channel 1 (-red): every max is 0 (far from the dot), so the mean decides: no dot (9),
        # 10 seen by 4 units (7), 60 seen by 1 unit (4), 250 seen by 1 unit (2, before 5 and 8)
        assert [e.index for e in idx.exemplars(1).top] == [9, 7, 4, 2]
        # only the images in some channel's top-k keep their pixels
        assert idx.kept.tolist() == [1, 2, 4, 5, 7, 8, 9]
        np.testing.assert_array_equal(idx.pixels, pixels[idx.kept])
    assert [e.index for e in idx.exemplars(0, 2).top] == [2, 5]
    with pytest.raises(ValueError, match="2 channels"):
        idx.exemplars(2)
    assert_clean(net)


def test_lite0_index_equals_exemplars_and_survives_disk(lite0, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for name, fmt in (("chelsea", "JPEG"), ("coffee", "PNG"), ("rocket", "JPEG"), ("astronaut", "PNG")):
        (folder / f"{name}.{fmt.lower()}").write_bytes(photo_bytes(name, fmt))
    files, passed = folder_files(folder)
    assert [n for n, _ in files] == ["astronaut.png", "chelsea.jpeg", "coffee.png", "rocket.jpeg"]
    assert passed == []
    spec, layer = lite0.spec, "_blocks.1"
    idx = build_index(lite0.model, files, spec=spec, trained=True, layer=layer, name="photos", k=2,
                      batch=3)
    assert idx.values.shape == idx.means.shape == idx.positions.shape == (4, 24)
    assert idx.values.dtype == np.float32 and idx.pixels.dtype == np.uint8
    pixels = np.stack([np.asarray(resize_crop(load_image(p.read_bytes()).image, spec)) for _, p in files])
    st = cache(tmp_path / "cache")
    save_index(idx, st)
    back = load_index(list_sets("efficientnet_lite0", True, layer, store=st)[0].key, st)
    for ch in range(24):
        want = exemplars(lite0.model, pixels, layer=layer, channel=ch, mean=spec.mean, std=spec.std, k=2)
        assert_same(idx.exemplars(ch), want)
        assert_same(back.exemplars(ch), want)
    np.testing.assert_array_equal(back.names, idx.names)
    assert_clean(lite0.model)


def test_folder_scan_skips_and_reports(tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    (folder / "nested").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    px = np.full((40, 40, 3), 90, np.uint8)
    Image.fromarray(px).save(folder / "good.png")
    Image.fromarray(px).save(folder / "nested" / "deep.png")
    good = (folder / "good.png").read_bytes()
    (folder / "broken.png").write_bytes(good[: len(good) // 2])
    (folder / "notes.txt").write_text("not an image")
    (folder / ".DS_Store").write_bytes(b"\0\1")
    files, passed = folder_files(folder)
    assert [n for n, _ in files] == ["broken.png", "good.png", "notes.txt"]
    assert passed == [Skipped("nested/", "a sub-folder (not searched: recursion is off)")]
    files_r, passed_r = folder_files(folder, recursive=True)
    assert [n for n, _ in files_r] == ["broken.png", "good.png", "nested/deep.png", "notes.txt"]
    assert passed_r == []
    skipped: list[Skipped] = []
    idx = build_index(red_detector(), files_r, spec=TINY, trained=True, layer="0", name="m",
                      on_skip=skipped.append)
    assert idx.names.tolist() == ["good.png", "nested/deep.png"] and idx.skipped == 2
    assert [s.name for s in skipped] == ["broken.png", "notes.txt"]
    assert "damaged or truncated" in skipped[0].reason and "not an image" in skipped[1].reason
    with pytest.raises(ValueError, match="Folder not found"):
        folder_files(tmp_path / "nope")
    with pytest.raises(ValueError, match="Not a folder"):
        folder_files(folder / "good.png")


def test_refusals_leave_the_model_clean(tmp_path: Path) -> None:
    net = red_detector()
    junk = tmp_path / "junk.txt"
    junk.write_text("hello")
    with pytest.raises(ValueError, match="No readable images"):
        build_index(net, [("junk.txt", junk)], spec=TINY, trained=True, layer="0", name="j")
    with pytest.raises(ValueError, match="No layer named"):
        build_index(net, [("junk.txt", junk)], spec=TINY, trained=True, layer="7", name="j")
    with pytest.raises(ValueError, match="no spatial feature map"):
        check_layer(get_flat(), "1", input_size=32)
    assert_clean(net)


def get_flat():
    """Conv then flatten: layer "1" has no spatial map."""
    from torch import nn

    return nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten()).eval().requires_grad_(False)


def test_manifest_lists_replaces_and_survives_corruption(tmp_path: Path) -> None:
    net, files = red_detector(), red_dots(tmp_path / "dots")
    st = cache(tmp_path / "cache")
    a = build_index(net, files[:3], spec=TINY, trained=True, layer="0", name="a", k=2)
    b = build_index(net, files, spec=TINY, trained=True, layer="0", name="b", k=2)
    save_index(a, st)
    save_index(b, st)
    save_index(dataclasses.replace(a, layer="1"), st)
    sets = list_sets("tiny", True, "0", store=st)
    assert [(s.name, s.n_images) for s in sets] == [("a", 3), ("b", 11)]
    assert list_sets("tiny", False, store=st) == [] and len(list_sets("tiny", True, store=st)) == 3
    save_index(dataclasses.replace(b, name="a"), st)  # index 'a' again, now with 11 images
    assert [(s.name, s.n_images) for s in list_sets("tiny", True, "0", store=st)] == [("a", 11), ("b", 11)]
    assert not list(st.root.rglob(".tmp-*"))
    # stored without pickles: every array loads with allow_pickle=False
    for p in st.root.rglob("*.npz"):
        with np.load(p, allow_pickle=False) as data:
            assert all(data[k].dtype != object for k in data.files)
    # a damaged set is a clear error; a deleted one disappears from the list
    st.path(sets[0].key).write_bytes(st.path(sets[0].key).read_bytes()[:500])
    with pytest.raises(ValueError, match="missing or unreadable"):
        load_index(sets[0].key, st)
    st.path(sets[1].key).unlink()
    assert [s.name for s in list_sets("tiny", True, "0", store=st)] == ["a"]
    bad = store_mod.to_arrays(a)
    bad["pixels"] = bad["pixels"][:1]
    with pytest.raises(ValueError, match="inconsistent"):
        store_mod.from_arrays(bad)
