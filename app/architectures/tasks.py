"""Computations of the Architectures page.

Model facts and key-idea cards are built on private ``meta``-device models (shapes only) and kept
in the server's result cache (``resources.results()``) after one gated computation; structure
counts and latencies also go to disk (``ArchStore``). The two-model comparison runs on the shared
models through ``resources.compute``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import streamlit as st
import torch

from app.shell import resources
from models.registry import LoadedModel, get_spec, list_specs
from vizcore.architectures.blocks import BlockGraph
from vizcore.architectures.cards import CardBlock, ScanRow, scan_model, totals
from vizcore.architectures.catalog import ModelRow, Structure, build_on_meta, count_structure, published
from vizcore.architectures.compare import Box, crop_box
from vizcore.architectures.extract import extract_block
from vizcore.architectures.latency import ArchStore, Latency, measure_latency
from vizcore.architectures.savings import Saving, facts, inception_bottlenecks, savings
from vizcore.core.hooks import conv_layer_names
from vizcore.core.memcache import MISS, key_of
from vizcore.core.preprocess import ModelInput
from vizcore.explain.cam import CamResult, gradient_cam
from vizcore.predict.topk import Prediction, predict

R = TypeVar("R")


@dataclass(frozen=True)
class CardData:
    """One drawn block, the ideas it prices, and the same ideas summed over the whole model."""

    graph: BlockGraph
    savings: tuple[Saving, ...]
    facts: tuple[str, ...]
    scan: tuple[ScanRow, ...]
    totals: dict[str, tuple[int, int, int, int, int]]


@dataclass(frozen=True)
class Side:
    """One model's half of the comparison."""

    prediction: Prediction
    cam: CamResult
    box: Box  # the part of the photo this model sees
    last_conv: str
    rf_size: int | None


def cached(fn: Callable[..., R], *args: Any) -> R:
    """``fn(*args)`` once per server (result cache), computed holding a gate slot."""
    key = key_of(f"{fn.__module__}.{fn.__qualname__}", *args)
    cache = resources.results()
    hit = cache.get(key)
    if hit is not MISS:
        return hit
    status = st.empty()
    with resources.compute_slot(status):
        status.empty()
        hit = cache.get(key)
        if hit is MISS:
            hit = fn(*args)
            cache.put(key, hit)
    return hit


def image_shape(spec: object) -> tuple[int, int, int, int]:
    """(1, C, S, S) input of a spec."""
    size = int(getattr(spec, "input_size", 224))
    return (1, int(getattr(spec, "channels", 3)), size, size)


def image_shape_text(name: str) -> str:
    """"3×224×224" for model ``name``."""
    shape = image_shape(get_spec(name))
    return "×".join(str(d) for d in shape[1:])


def _structure(name: str, store: ArchStore) -> Structure | None:
    spec = get_spec(name)
    shape = image_shape(spec)
    got = store.structure(name, shape)
    if got is None:
        try:
            got = count_structure(build_on_meta(spec.build), shape)
        except (RuntimeError, ValueError, TypeError, NotImplementedError):
            return None
        store.put_structure(name, got)
    return got


def catalog(names: tuple[str, ...]) -> tuple[ModelRow, ...]:
    """Every model's published metadata and our structure count (disk-cached per model)."""
    store = ArchStore()
    rows = []
    for name in names:
        spec = get_spec(name)
        rows.append(ModelRow(name, spec.display_name, spec.family, spec.year, published(spec),
                             _structure(name, store)))
    return tuple(rows)


def registry_names() -> tuple[str, ...]:
    """Names of every registered model, in the registry's order."""
    return tuple(s.name for s in list_specs())


def latencies(names: tuple[str, ...]) -> dict[str, Latency]:
    """Stored latencies on this machine at the current thread count (a few small file reads)."""
    store = ArchStore()
    out = {}
    for name in names:
        lat = store.latency(name, image_shape(get_spec(name)))
        if lat is not None:
            out[name] = lat
    return out


def measure(name: str) -> Latency:
    """Time a private untrained CPU build of ``name`` and store the result (call holding a slot)."""
    spec = get_spec(name)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = spec.build().eval()
    lat = measure_latency(model, image_shape(spec))
    ArchStore().put_latency(name, image_shape(spec), lat)
    return lat


def card(block: CardBlock) -> CardData:
    """Trace ``block.ref`` of ``block.model`` (meta device) and price its ideas, also over every
    ``block.scan`` module of the model."""
    spec = get_spec(block.model)
    net = build_on_meta(spec.build)
    shape = image_shape(spec)
    graph = extract_block(net, block.ref, input_size=shape[-1], channels=shape[1],
                          model_name=spec.display_name)
    found = savings(graph)
    if block.paper_kernel:
        found += inception_bottlenecks(graph, kernel=block.paper_kernel)[-1:]
    rows = scan_model(net, block.scan, shape) if block.scan else ()
    return CardData(graph, tuple(found), tuple(facts(graph)), rows, totals(rows))


def structure_of(loaded: LoadedModel, _image: None) -> Structure | None:
    """Parameters, MACs and depth of a loaded model that is not in the catalog (your own model);
    run it through ``resources.compute`` (it hooks the shared model for one forward)."""
    try:
        with torch.no_grad():
            return count_structure(loaded.model, image_shape(loaded.spec))
    except (RuntimeError, ValueError, TypeError, NotImplementedError):
        return None


def side(loaded: LoadedModel, minput: ModelInput, *, target: int, size: tuple[int, int]) -> Side:
    """Top-5, Grad-CAM at the default layer (``target`` −1 = the model's own top class) and the
    receptive field of the last conv, for one shared model."""
    from app.inside.tasks import model_trace

    spec, model = loaded.spec, loaded.model
    x = minput.tensor
    pred = predict(model, x, spec.categories, k=5)
    n_classes = int(pred.logits.shape[0])
    tgt = target if 0 <= target < n_classes else pred.top1
    cam = gradient_cam(model, x, layer=spec.default_layer or None, target=tgt)
    last = conv_layer_names(model)[-1]
    try:
        rf = model_trace(loaded, None).layer_rf.get(last)
    except (RuntimeError, ValueError):
        rf = None
    return Side(pred, cam, crop_box(size, spec.resize_size, spec.input_size), last,
                rf.size if rf is not None else None)
