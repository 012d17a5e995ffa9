"""Feature maps: every requested layer's activations from ONE forward pass.

Outputs are copied when their module returns (a later in-place ReLU would otherwise change them),
so each map equals what a forward truncated at that layer gives. A module called twice (ResNet's
shared ``relu``) is recorded at its first call, like ``capture(..., stop_after=True)``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from vizcore.hooks import StopForward, frozen, model_device, observe, resolve_layer, run_until
from vizcore.receptive import Trace


@torch.no_grad()
def capture_all(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """One forward of ``x`` (1, 3, S, S); returns ``layer -> detached copy of its output``.

    The forward stops as soon as every layer has run. Hooks are removed and model flags restored
    afterwards, also on failure. Unknown names raise ``ValueError`` (with close matches)."""
    for name in layers:
        resolve_layer(model, name)
    wanted = set(layers)
    out: dict[str, torch.Tensor] = {}

    def after(name: str, _inp: tuple, output: object) -> None:
        if name in out:
            return
        first = output[0] if isinstance(output, (tuple, list)) else output
        out[name] = first.detach().clone()
        if len(out) == len(wanted):
            raise StopForward

    with frozen(model), observe(model, list(wanted), after=after):
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
    """The most active channel (highest mean) of one stage layer: ``map`` (H, W) float32."""

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


def feature_maps(
    model: nn.Module, x: torch.Tensor, layer: str, *, trace: Trace,
) -> FeatureMaps:
    """Maps of ``layer`` for ``x`` (1, 3, S, S), the overview strip (``stage_layers``) and the
    global activation range over all spatial layers — all from one forward pass."""
    spatial = spatial_layers(trace)
    if layer not in spatial:
        resolve_layer(model, layer)
        raise ValueError(f"Layer {layer!r} has no (C, H, W) feature map; pick a convolutional stage.")
    t0 = time.perf_counter()
    acts = capture_all(model, x, spatial)
    lo = min(float(a.min()) for a in acts.values())
    hi = max(float(a.max()) for a in acts.values())
    stages = []
    for name in stage_layers(trace):
        a = acts[name][0]
        means = a.mean(dim=(1, 2))
        c = int(means.argmax())
        stages.append(StageMap(name, c, tuple(a.shape), a[c].float().cpu().numpy(), float(means[c])))
    maps = acts[layer][0].float().cpu().numpy()
    return FeatureMaps(
        layer, maps, maps.mean(axis=(1, 2)), maps.max(axis=(1, 2)),
        (float(maps.min()), float(maps.max())), (lo, hi), tuple(stages), time.perf_counter() - t0,
    )
