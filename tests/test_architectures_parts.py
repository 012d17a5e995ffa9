"""Architectures compared, the parts around the blocks: layout geometry, the common heatmap grid,
latency measurement and its on-disk store."""

from __future__ import annotations

import itertools
import statistics

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from models.registry import get_spec
from vizcore.architectures.blocks import BlockRef
from vizcore.architectures.catalog import Structure, build_on_meta
from vizcore.architectures.compare import common_box, crop_box, pair_heatmaps, photo_crop, resample
from vizcore.architectures.extract import extract_block
from vizcore.architectures.latency import ArchStore, Latency, machine_label, measure_latency
from vizcore.architectures.layout import BOX_HALF_WIDTH, layout
from vizcore.core.preprocess import resize_crop


def _block(name: str, path: str):
    return extract_block(build_on_meta(get_spec(name).build), BlockRef(path))


@pytest.fixture(scope="module")
def inception():
    return _block("googlenet", "inception3a")


@pytest.fixture(scope="module")
def dense():
    return _block("densenet121", "features.denseblock1")


def _no_overlap(lay) -> None:
    by_level: dict[int, list[float]] = {}
    for x, lv in lay.positions.values():
        by_level.setdefault(lv, []).append(x)
    for xs in by_level.values():
        xs.sort()
        assert all(b - a >= 2 * BOX_HALF_WIDTH for a, b in itertools.pairwise(xs))


def test_inception_layout_puts_branches_side_by_side(inception) -> None:
    lay = layout(inception)
    _no_overlap(lay)
    first = [lay.positions[b[0]] for b in inception.branches()]
    assert len({lv for _, lv in first}) == 1 and len({x for x, _ in first}) == 4  # one row, 4 columns
    cat = inception.joins("concat")[0].id
    assert lay.positions[cat][1] == 3 and lay.levels == 5
    for e in lay.edges:  # every polyline starts at its source and ends at its target
        assert (e.xs[0], e.ys[0]) == lay.positions[e.source] or e.routed
        assert (e.xs[-1], e.ys[-1]) == lay.positions[e.target] or e.routed
    assert not any(e.routed for e in lay.edges)


def test_dense_block_reuse_edges_run_in_side_lanes(dense) -> None:
    lay = layout(dense)
    _no_overlap(lay)
    routed = [e for e in lay.edges if e.routed]
    assert len({e.source for e in routed}) == 6  # the input and layers 1–5 each feed later concats
    right = max(x for x, _ in lay.positions.values())
    assert all(min(e.xs[1:3]) > right + BOX_HALF_WIDTH for e in routed)


def test_crop_box_is_the_region_resize_crop_takes() -> None:
    w, h = 451, 300
    ramp = np.tile(np.arange(w, dtype=np.float64), (h, 1))  # pixel value = its x coordinate
    img = Image.fromarray((ramp * 255 / w).astype(np.uint8)).convert("RGB")

    class Spec:
        resize_size, input_size, interpolation, channels = 256, 224, "bilinear", 3
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)

    crop = np.asarray(resize_crop(img, Spec()), np.float64)[..., 0] * w / 255
    box = crop_box((w, h), 256, 224)
    expect_left = box[0] + (box[2] - box[0]) * 0.5 / 224  # centre of the first crop column
    assert crop[:, 0].mean() == pytest.approx(expect_left, abs=2.5)
    assert crop[:, -1].mean() == pytest.approx(box[2] - (box[2] - box[0]) * 0.5 / 224, abs=2.5)
    assert box[3] - box[1] == pytest.approx(224 * h / 256)


def test_resample_maps_photo_coordinates_exactly() -> None:
    a, b = crop_box((451, 300), 256, 224), crop_box((451, 300), 232, 224)
    box = common_box(a, b)
    assert box == a  # the 256→224 crop lies inside the 232→224 one
    centres = a[0] + (np.arange(224) + 0.5) / 224 * (a[2] - a[0])
    ramp = np.tile(centres, (224, 1)).astype(np.float32)  # heat = photo x of each pixel of crop a
    out = resample(ramp, a, box, 50)
    want = box[0] + (np.arange(50) + 0.5) / 50 * (box[2] - box[0])
    assert np.abs(out - want[None, :]).max() < 1e-3 * 451
    assert np.abs(resample(ramp, a, a, 224) - ramp).max() < 1e-3


def test_pair_heatmaps_agreement_and_difference(rng) -> None:
    box = crop_box((400, 300), 256, 224)
    m = rng.random((224, 224)).astype(np.float32)
    same = pair_heatmaps(m, box, m, box)
    assert same.correlation == pytest.approx(1.0) and same.overlap == pytest.approx(1.0)
    assert np.abs(same.diff).max() < 1e-5
    opposite = pair_heatmaps(m, box, 1 - m, box)
    assert opposite.correlation == pytest.approx(-1.0, abs=1e-4)
    assert np.allclose(opposite.diff, 2 * opposite.a - 1, atol=1e-5)
    flat = pair_heatmaps(np.zeros((7, 7), np.float32), box, m, box)
    assert flat.correlation is None
    with pytest.raises(ValueError, match="overlap"):
        common_box((0, 0, 10, 10), (20, 20, 30, 30))
    assert photo_crop(Image.new("RGB", (400, 300)), box, 64).size == (64, 64)


def test_measure_latency_runs_and_reports_the_median() -> None:
    calls = []

    class Counting(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            calls.append(torch.is_inference_mode_enabled())
            return x * 2

    lat = measure_latency(Counting(), (1, 3, 8, 8), runs=5, warmup=2)
    assert len(calls) == 7 and all(calls)
    assert len(lat.runs_ms) == 5 and lat.median_ms == statistics.median(lat.runs_ms) >= 0
    assert lat.threads == torch.get_num_threads() and lat.machine == machine_label()
    assert "cores" in lat.machine and "torch" in lat.machine
    assert lat.load is not None and lat.load >= 0
    with pytest.raises(ValueError, match="runs"):
        measure_latency(Counting(), (1, 3, 8, 8), runs=0)


def test_store_round_trip_and_corrupt_entry_is_a_miss(tmp_path) -> None:
    store = ArchStore(tmp_path)
    shape = (1, 3, 224, 224)
    assert store.structure("resnet18", shape) is None and store.latency("resnet18", shape) is None
    s = Structure(11_689_512, 1_814_073_344, 21, shape)
    store.put_structure("resnet18", s)
    lat = Latency((3.0, 1.0, 2.0), torch.get_num_threads(), machine_label())
    store.put_latency("resnet18", shape, lat)
    again = ArchStore(tmp_path)
    assert again.structure("resnet18", shape) == s
    assert again.latency("resnet18", shape) == lat and again.latency("resnet18", shape).median_ms == 2.0
    assert again.latency("resnet18", shape, threads=lat.threads + 7) is None  # other thread count
    loaded = Latency((4.0,), lat.threads, lat.machine, 12.5)
    store.put_latency("alexnet", shape, loaded)
    assert again.latency("alexnet", shape) == loaded  # the load average travels with the times
    assert again.structure("resnet18", (1, 3, 160, 160)) is None
    for f in tmp_path.rglob("*.npz"):
        f.write_bytes(b"not a zip")
    assert again.structure("resnet18", shape) is None and again.latency("resnet18", shape) is None
