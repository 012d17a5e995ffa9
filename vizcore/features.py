"""Feature maps: every requested layer's activations from ONE forward pass.

Outputs are copied when their module returns (a later in-place ReLU would otherwise change them),
so each map equals what a forward truncated at that layer gives. A module called twice (ResNet's
shared ``relu``) is recorded at its first call, like ``capture(..., stop_after=True)``.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vizcore.hooks import StopForward, frozen, model_device, observe, resolve_layer, run_until
from vizcore.receptive import Trace


def _eval(model: nn.Module) -> AbstractContextManager:
    """``frozen(model)`` unless the model is already in eval mode (the shared models always are):
    under ``no_grad`` the ``requires_grad`` flags do not matter, so a forward changes nothing."""
    return frozen(model) if any(m.training for m in model.modules()) else nullcontext()


@torch.no_grad()
def capture_all(
    model: nn.Module, x: torch.Tensor, layers: Sequence[str], *,
    copy: Collection[str] | None = None,
) -> dict[str, torch.Tensor]:
    """One forward of ``x`` (1, 3, S, S); returns ``layer -> detached output`` (first call).

    Outputs of the layers in ``copy`` (default: all) are cloned when their module returns; pass
    ``trace.modified_later`` to copy only those a later in-place op would change. The forward
    stops as soon as every layer has run. Hooks are removed and model flags restored afterwards,
    also on failure. Unknown names raise ``ValueError`` (with close matches)."""
    known = dict(model.named_modules())
    for name in layers:
        if name not in known:
            resolve_layer(model, name)  # raises with close matches
    wanted = set(layers)
    out: dict[str, torch.Tensor] = {}

    def after(name: str, _inp: tuple, output: object) -> None:
        if name in out:
            return
        first = output[0] if isinstance(output, (tuple, list)) else output
        out[name] = first.detach().clone() if copy is None or name in copy else first.detach()
        if len(out) == len(wanted):
            raise StopForward

    with _eval(model), observe(model, list(wanted), after=after):
        run_until(model, x.to(model_device(model)))
    missing = wanted - set(out)
    if missing:
        raise ValueError(f"These layers did not run in the forward pass: {', '.join(sorted(missing))}")
    return out


def spatial_layers(trace: Trace) -> list[str]:
    """Layers (execution order) whose output is a (C, H, W) feature map with H = W > 1."""
    return [n for n, s in trace.layer_shape.items() if len(s) == 3 and s[1] == s[2] > 1]


def stage_layers(trace: Trace) -> list[str]:
    """The last layer of each spatial resolution, input to output (skipping pooling-only layers)."""
    names = spatial_layers(trace)
    types = {r.name: r.type for r in trace.rows}
    stages: list[str] = []
    for i, n in enumerate(names):
        nxt = names[i + 1] if i + 1 < len(names) else None
        if nxt is not None and trace.layer_shape[nxt][1] == trace.layer_shape[n][1]:
            continue
        group = [m for m in names[: i + 1] if trace.layer_shape[m][1] == trace.layer_shape[n][1]]
        good = [m for m in group if "Pool" not in types.get(m, "")]
        stages.append((good or group)[-1])
    return list(dict.fromkeys(stages))


@dataclass(frozen=True)
class StageMap:
    """The most active channel of one stage layer: highest mean activation among channels with a
    spatial pattern (std ≥ 10% of |mean|, at most half the units at the layer's maximum):
    ``map`` (H, W) float32."""

    layer: str
    channel: int
    shape: tuple[int, int, int]
    map: np.ndarray
    mean: float


@dataclass(frozen=True)
class FeatureMaps:
    """All channels of one layer plus what the page needs to normalise and rank them.

    ``maps`` (C, H, W) float32; ``global_range`` is min/max over every captured spatial layer."""

    layer: str
    maps: np.ndarray
    channel_mean: np.ndarray
    channel_max: np.ndarray
    layer_range: tuple[float, float]
    global_range: tuple[float, float]
    stages: tuple[StageMap, ...]
    seconds: float


@torch.no_grad()
def feature_maps(
    model: nn.Module, x: torch.Tensor, layer: str, *, trace: Trace,
) -> FeatureMaps:
    """Maps of ``layer`` for ``x`` (1, 3, S, S), the overview strip (``stage_layers``) and the
    global activation range over all spatial layers — all from ONE forward pass.

    Every spatial layer is observed, but only what the page needs is kept: min/max of each layer,
    the most active channel of each stage, and all channels of ``layer`` (so no extra memory)."""
    spatial = spatial_layers(trace)
    if layer not in spatial:
        resolve_layer(model, layer)
        raise ValueError(f"Layer {layer!r} has no (C, H, W) feature map; pick a convolutional stage.")
    stage_names = set(stage_layers(trace))
    seen: set[str] = set()
    reduced: dict[int, tuple[weakref.ref, int]] = {}
    ranges: list[tuple[float, float]] = []
    stages: dict[str, StageMap] = {}
    kept: dict[str, np.ndarray] = {}

    def after(name: str, _inp: tuple, output: object) -> None:
        if name in seen:
            return
        seen.add(name)
        src = output[0] if isinstance(output, (tuple, list)) else output
        a = src.detach()[0].float().cpu().numpy()  # numpy reductions are much faster than torch's here
        done = reduced.get(id(src))  # a block returns its last layer's tensor: reduce it once
        if done is None or done[0]() is not src or done[1] != src._version:
            reduced[id(src)] = (weakref.ref(src), src._version)
            ranges.append((float(a.min()), float(a.max())))
        if name in stage_names:
            flat2 = a.reshape(a.shape[0], -1)
            means, stds = flat2.mean(axis=1), flat2.std(axis=1)
            saturated = (flat2 >= 0.98 * flat2.max()).mean(axis=1) > 0.5  # e.g. ReLU6 stuck at 6
            flat = (stds < 0.1 * np.abs(means)) | saturated  # no spatial pattern to show
            c = int(np.argmax(np.where(flat, -np.inf, means))) if not flat.all() else int(means.argmax())
            stages[name] = StageMap(name, c, tuple(a.shape), a[c].copy(), float(means[c]))
        if name == layer:
            kept[name] = a.copy()
        if len(seen) == len(spatial):
            raise StopForward

    t0 = time.perf_counter()
    with _eval(model), observe(model, spatial, after=after):
        run_until(model, x.to(model_device(model)))
    if layer not in kept:
        raise ValueError(f"Layer {layer!r} did not run in the forward pass.")
    maps = kept[layer]
    return FeatureMaps(
        layer, maps, maps.mean(axis=(1, 2)), maps.max(axis=(1, 2)),
        (float(maps.min()), float(maps.max())),
        (min(r[0] for r in ranges), max(r[1] for r in ranges)),
        tuple(stages[n] for n in stage_layers(trace) if n in stages), time.perf_counter() - t0,
    )
