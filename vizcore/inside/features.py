"""Feature maps: every requested layer's activations from ONE forward pass.

Outputs are copied when their module returns (a later in-place ReLU would otherwise change them),
so each map equals what a forward truncated at that layer gives. A module called twice (ResNet's
shared ``relu``) is recorded at its first call, like ``capture(..., stop_after=True)``.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vizcore.core.hooks import StopForward, frozen_once, model_device, observe, resolve_layer, run_until
from vizcore.inside.receptive import Trace


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
        if first.requires_grad:
            first = first.detach()
        out[name] = first.clone() if copy is None or name in copy else first
        if len(out) == len(wanted):
            raise StopForward

    with frozen_once(model), observe(model, list(wanted), after=after):
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

    ``maps`` (C, H, W) float32; ``channel_mean`` / ``channel_max`` (C,)."""

    layer: str
    maps: np.ndarray
    channel_mean: np.ndarray
    channel_max: np.ndarray
    layer_range: tuple[float, float]
    stages: tuple[StageMap, ...]
    seconds: float


def _stage_map(name: str, a: np.ndarray) -> StageMap:
    """The most active channel with a spatial pattern in ``a`` (C, H, W) (see ``StageMap``).

    Channels are tried in order of mean activation, so usually only the first few are examined."""
    flat2 = a.reshape(a.shape[0], -1)
    means = flat2.mean(axis=1)
    top = flat2.max()
    for c in np.argsort(-means, kind="stable"):
        row = flat2[c]
        # a spatial pattern: not flat, and not mostly stuck at the layer's maximum (ReLU6 at 6)
        if row.std() >= 0.1 * abs(means[c]) and (row >= 0.98 * top).mean() <= 0.5:
            break
    else:
        c = int(means.argmax())
    return StageMap(name, int(c), tuple(a.shape), a[c].copy(), float(means[c]))


@torch.no_grad()
def feature_maps(
    model: nn.Module, x: torch.Tensor, layer: str, *, trace: Trace,
) -> FeatureMaps:
    """Maps of ``layer`` for ``x`` (1, 3, S, S) and the overview strip (the most active channel of
    each of ``stage_layers``), from ONE forward pass that stops after the last layer it needs.

    Only the stage layers and ``layer`` are observed, and only what the page shows is kept."""
    spatial = spatial_layers(trace)
    if layer not in spatial:
        resolve_layer(model, layer)
        raise ValueError(f"Layer {layer!r} has no (C, H, W) feature map; pick a convolutional stage.")
    stage_names = stage_layers(trace)
    wanted = set(stage_names) | {layer}
    seen: set[str] = set()
    stages: dict[str, StageMap] = {}
    kept: dict[str, np.ndarray] = {}

    def after(name: str, _inp: tuple, output: object) -> None:
        if name in seen:
            return
        seen.add(name)
        src = output[0] if isinstance(output, (tuple, list)) else output
        a = src.detach()[0].float().cpu().numpy()  # shares memory with the tensor
        if name in stage_names:
            stages[name] = _stage_map(name, a)
        if name == layer:  # a later in-place op (ReLU(inplace=True)) must not change the page's maps
            kept[name] = a.copy() if name in trace.modified_later else a
        if len(seen) == len(wanted):
            raise StopForward

    t0 = time.perf_counter()
    with frozen_once(model), observe(model, list(wanted), after=after):
        run_until(model, x.to(model_device(model)))
    if layer not in kept:
        raise ValueError(f"Layer {layer!r} did not run in the forward pass.")
    maps = kept[layer]
    channel_max = maps.max(axis=(1, 2))
    return FeatureMaps(
        layer, maps, maps.mean(axis=(1, 2)), channel_max, (float(maps.min()), float(channel_max.max())),
        tuple(stages[n] for n in stage_names if n in stages), time.perf_counter() - t0,
    )


def _clamp_bounds(module: nn.Module) -> tuple[float, float] | None:
    """(low, high) when ``module`` clamps elementwise (ReLU, ReLU6, Hardtanh), else ``None``."""
    if isinstance(module, nn.ReLU):
        return 0.0, float("inf")
    if isinstance(module, nn.Hardtanh):
        return float(module.min_val), float(module.max_val)
    return None


@torch.no_grad()
def activation_range(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> tuple[float, float]:
    """(min, max) over the outputs of all ``layers`` for ``x`` (1, 3, S, S), from one forward:
    the scale of "global" normalisation. The forward stops after the last layer.

    Each distinct tensor is reduced once (a block returns its last layer's output), and a clamp
    (ReLU/ReLU6) applied to an already reduced tensor gets its range without a pass: a monotone
    elementwise map sends the input's (min, max) to the output's."""
    wanted = list(dict.fromkeys(layers))
    table = dict(model.named_modules())
    clamps = {n: _clamp_bounds(table[n]) for n in wanted if n in table}
    seen: set[str] = set()
    known: dict[int, tuple[weakref.ref, int, tuple[float, float]]] = {}
    lo, hi = float("inf"), float("-inf")

    def range_of(t: object) -> tuple[float, float] | None:
        entry = known.get(id(t)) if isinstance(t, torch.Tensor) else None
        ok = entry is not None and entry[0]() is t and entry[1] == t._version  # type: ignore[union-attr]
        return entry[2] if ok else None  # type: ignore[index]

    def after(name: str, inp: tuple, output: object) -> None:
        nonlocal lo, hi
        if name in seen:
            return
        seen.add(name)
        src = output[0] if isinstance(output, (tuple, list)) else output
        rng = range_of(src)
        if rng is None:
            bounds, parent = clamps.get(name), range_of(inp[0]) if inp else None
            if bounds is not None and parent is not None:
                rng = tuple(min(max(v, bounds[0]), bounds[1]) for v in parent)  # type: ignore[assignment]
            else:
                a, b = torch.aminmax(src)
                rng = float(a), float(b)
            known[id(src)] = (weakref.ref(src), src._version, rng)  # type: ignore[assignment]
        lo, hi = min(lo, rng[0]), max(hi, rng[1])
        if len(seen) == len(wanted):
            raise StopForward

    with frozen_once(model), observe(model, wanted, after=after):
        run_until(model, x.to(model_device(model)))
    if len(seen) < len(wanted):
        raise ValueError(f"These layers did not run in the forward pass: "
                         f"{', '.join(sorted(set(wanted) - seen))}")
    return lo, hi
