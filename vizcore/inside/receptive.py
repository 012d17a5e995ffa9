"""Receptive fields, traced from the real model.

``trace_model`` runs one forward under a ``TorchFunctionMode`` that follows every tensor: each conv /
pool composes the receptive field (RF) of its input with its kernel, stride, padding and dilation;
every other op (add, cat, ReLU, BatchNorm, ...) takes the union of its inputs' RF boxes, so branching
models (GoogLeNet, DenseNet, ResNet) get the max over branches. Channel gates built from a global pool
(squeeze-excitation) see the whole image but only rescale channels; they are reported, not merged
into the spatial RF. ``effective_rf`` is the gradient of one unit w.r.t. the input pixels.

Coordinates are input pixels; ``RFInfo.start`` is the first row (= column) covered by unit (0, 0)
and may be negative (padding).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_flatten

from vizcore.core.hooks import capture, frozen, model_device, observe, run_until


@dataclass(frozen=True)
class RFInfo:
    """Theoretical receptive field of a layer's output: ``size`` px, ``jump`` px between
    neighbouring units, ``start`` = first input row/column seen by unit (0, 0)."""

    size: int
    jump: int
    start: int


@dataclass(frozen=True)
class _Geo:
    size: int
    jump: int
    start: int
    glob: bool = False  # produced by a global pool: sees everything, no spatial layout


@dataclass(frozen=True)
class TraceRow:
    """One executed leaf module or one join (residual add, concat, SE gate), in execution order."""

    name: str
    kind: str  # "module" | "residual add" | "concat" | "SE gate"
    type: str
    out_shape: tuple[int, ...]
    rf: RFInfo | None
    global_context: bool


@dataclass(frozen=True)
class Trace:
    """Result of ``trace_model``: rows in execution order and the RF of every named module."""

    rows: tuple[TraceRow, ...]
    layer_rf: dict[str, RFInfo]
    layer_shape: dict[str, tuple[int, ...]]
    input_size: int
    modified_later: frozenset[str] = frozenset()  # outputs changed in place later (inplace ReLU)


def _pair(v: object) -> int:
    return int(v[0]) if isinstance(v, (tuple, list)) else int(v)  # square models: first axis


def _arg(args: tuple, kwargs: dict, pos: int, name: str, default: object) -> object:
    if len(args) > pos:
        return args[pos]
    return kwargs.get(name, default)


def _compose(g: _Geo, k: int, s: int, p: int, d: int = 1) -> _Geo:
    keff = d * (k - 1) + 1
    return _Geo(g.size + (keff - 1) * g.jump, g.jump * s, g.start - p * g.jump, g.glob)


def _union(geos: list[_Geo]) -> _Geo:
    local = [g for g in geos if not g.glob] or geos
    start = min(g.start for g in local)
    end = max(g.start + g.size for g in local)
    return _Geo(end - start, max(g.jump for g in local), start, all(g.glob for g in local))


_ADDS = {"add", "add_", "__add__", "__iadd__", "__radd__"}
_MULS = {"mul", "mul_", "__mul__", "__imul__", "__rmul__"}


class _Tracer(TorchFunctionMode):
    """Follows RF geometry through every torch op (weak references: no activation is kept alive)."""

    def __init__(self) -> None:
        super().__init__()
        self.geo: dict[int, tuple[weakref.ref, _Geo]] = {}
        self.joins: list[tuple[str, tuple[int, ...], _Geo]] = []

    def get(self, t: object) -> _Geo | None:
        if not isinstance(t, torch.Tensor):
            return None
        entry = self.geo.get(id(t))
        return entry[1] if entry is not None and entry[0]() is t else None

    def put(self, t: torch.Tensor, g: _Geo) -> None:
        self.geo[id(t)] = (weakref.ref(t), g)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        ins = [g for t in tree_flatten((args, kwargs))[0] if (g := self.get(t)) is not None]
        if not ins:
            return out
        name = getattr(func, "__name__", "")
        src = args[0] if args else None
        if name == "conv2d":
            pad = _arg(args, kwargs, 4, "padding", 0)
            k, d = int(args[1].shape[-2]), _pair(_arg(args, kwargs, 5, "dilation", 1))
            p = {"valid": 0, "same": d * (k - 1) // 2}.get(pad, 0) if isinstance(pad, str) else _pair(pad)
            g = _compose(self.get(src) or ins[0], k, _pair(_arg(args, kwargs, 3, "stride", 1)), p, d)
        elif name.startswith(("max_pool2d", "avg_pool2d")):
            k = _pair(_arg(args, kwargs, 1, "kernel_size", 1))
            s = _arg(args, kwargs, 2, "stride", None)
            d = _pair(_arg(args, kwargs, 4, "dilation", 1)) if name.startswith("max") else 1
            s = k if s is None or (isinstance(s, (tuple, list)) and not s) else _pair(s)
            g = _compose(self.get(src) or ins[0], k, s, _pair(_arg(args, kwargs, 3, "padding", 0)), d)
        elif name.startswith("adaptive_") and isinstance(src, torch.Tensor):
            n_in, first = int(src.shape[-2]), out[0] if isinstance(out, tuple) else out
            n_out = int(first.shape[-2])
            base = self.get(src) or ins[0]
            g = base if n_in == n_out else _compose(base, math.ceil(n_in / n_out), n_in // n_out, 0)
            g = _Geo(g.size, g.jump, g.start, base.glob or n_out == 1)
        else:
            g = _union(ins)
            local = [x for x in ins if not x.glob]
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else ()
            if name in _ADDS and len(local) >= 2:
                self.joins.append(("residual add", shape, g))
            elif name == "cat" and len(local) >= 2:
                self.joins.append(("concat", shape, g))
            elif name in _MULS and local and len(local) < len(ins):
                self.joins.append(("SE gate", shape, g))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.put(t, g)
        return out


def _info(g: _Geo) -> RFInfo:
    return RFInfo(g.size, g.jump, g.start)


@torch.no_grad()
def trace_model(model: nn.Module, *, input_size: int = 224) -> Trace:
    """One forward of a (1, 3, S, S) zero input, S = ``input_size``, recording every module's output
    shape and RF. Leaves hooks, ``training`` and ``requires_grad`` as they were (hold the model lock)."""
    if input_size < 8:
        raise ValueError(f"input_size must be at least 8 px, got {input_size}")
    names = [n for n, _ in model.named_modules() if n]
    leaves = {n for n, m in model.named_modules() if n and not any(True for _ in m.children())}
    tracer = _Tracer()
    stack: list[str] = []
    rows: list[TraceRow] = []
    layer_rf: dict[str, RFInfo] = {}
    layer_shape: dict[str, tuple[int, ...]] = {}
    versions: dict[str, tuple[torch.Tensor, int]] = {}

    def flush_joins() -> None:
        for kind, shape, g in tracer.joins:
            where = stack[-1] if stack else "(model)"
            rows.append(TraceRow(where, kind, kind, shape, _info(g), g.glob))
        tracer.joins.clear()

    def before(name: str, _inp: tuple) -> None:
        flush_joins()
        stack.append(name)

    def after(name: str, _inp: tuple, out: object) -> None:
        flush_joins()
        stack.pop()
        first = out[0] if isinstance(out, (tuple, list)) else out
        g = tracer.get(first)
        if isinstance(first, torch.Tensor):
            if name not in layer_shape:  # a reused module (ResNet's relu) is named by its first call,
                layer_shape[name] = tuple(first.shape[1:])  # as capture(stop_after=True) sees it
                versions[name] = (first, first._version)
                if g is not None:
                    layer_rf[name] = _info(g)
            if name in leaves:
                mod = model.get_submodule(name)
                rows.append(TraceRow(name, "module", type(mod).__name__, tuple(first.shape[1:]),
                                     _info(g) if g else None, bool(g and g.glob)))

    # channels of the first conv: 1 for grayscale models (LeNet-5, user models), else 3
    channels = next((m.in_channels for m in model.modules() if isinstance(m, nn.Conv2d)), 3)
    x = torch.zeros(1, channels, input_size, input_size, device=model_device(model))
    with frozen(model), observe(model, names, before=before, after=after), tracer:
        tracer.put(x, _Geo(1, 1, 0))
        model(x)
        flush_joins()
    modified = frozenset(n for n, (t, v) in versions.items() if t._version != v)
    return Trace(tuple(rows), layer_rf, layer_shape, input_size, modified)


def receptive_field(model: nn.Module, layer: str, *, input_size: int = 224) -> RFInfo:
    """Theoretical RF (size, jump, start) of the output of ``layer`` (a ``named_modules()`` path).

    Costs one forward at ``input_size``; call it once per layer, not once per unit."""
    trace = trace_model(model, input_size=input_size)
    if layer not in trace.layer_rf:
        from vizcore.core.hooks import resolve_layer

        resolve_layer(model, layer)  # raises ValueError with close matches for unknown names
        raise ValueError(f"Layer {layer!r} did not run on a spatial input during the forward pass.")
    return trace.layer_rf[layer]


def rf_box(info: RFInfo, row: int, col: int, input_size: int) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of unit (``row``, ``col``)'s RF, clipped to the image;
    bottom/right are exclusive, so ``img[top:bottom, left:right]`` is the patch."""
    top, left = info.start + row * info.jump, info.start + col * info.jump
    clip = lambda v: max(0, min(input_size, v))  # noqa: E731
    return clip(top), clip(left), clip(top + info.size), clip(left + info.size)


@dataclass(frozen=True)
class EffectiveRF:
    """Gradient of one unit w.r.t. the input: ``grad`` (S, S) = sum over colour channels of
    |d unit / d pixel|, scaled to [0, 1]; ``value`` = the unit's activation; ``box`` = theoretical RF."""

    grad: np.ndarray
    value: float
    layer: str
    channel: int | None
    row: int
    col: int
    box: tuple[int, int, int, int]
    extent: tuple[int, int, int, int] | None  # bounding box of the nonzero gradient (same convention)


def effective_rf(
    model: nn.Module, x: torch.Tensor, layer: str, *, row: int, col: int,
    channel: int | None = None, info: RFInfo | None = None,
) -> EffectiveRF:
    """Effective RF of unit ``(channel, row, col)`` of ``layer`` for input ``x`` (1, 3, S, S);
    ``channel=None`` uses the sum over all channels at that position. Uses ``torch.autograd.grad``
    on the captured activation; parameters stay frozen and gradient-free."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"x must have shape (1, 3, S, S), got {tuple(x.shape)}")
    size = int(x.shape[-1])
    info = info or receptive_field(model, layer, input_size=size)
    with frozen(model), capture(model, [layer], stop_after=True) as acts:
        xin = x.detach().to(model_device(model)).requires_grad_(True)
        with torch.enable_grad():
            run_until(model, xin)
            act = acts[layer]
            if act.dim() != 4:
                raise ValueError(f"Layer {layer!r} has no spatial output (shape {tuple(act.shape)}).")
            h, w = act.shape[-2:]
            if not (0 <= row < h and 0 <= col < w):
                raise ValueError(f"Position ({row}, {col}) is outside the {h}×{w} map of {layer!r}.")
            if channel is not None and not 0 <= channel < act.shape[1]:
                raise ValueError(f"Channel {channel} out of range (0–{act.shape[1] - 1}).")
            unit = act[0, :, row, col].sum() if channel is None else act[0, channel, row, col]
            (grad,) = torch.autograd.grad(unit, xin)
    g = grad[0].abs().sum(0).cpu().numpy().astype(np.float32)
    nz = np.nonzero(g > 0)
    extent = None if nz[0].size == 0 else (int(nz[0].min()), int(nz[1].min()),
                                            int(nz[0].max()) + 1, int(nz[1].max()) + 1)
    peak = float(g.max())
    return EffectiveRF(g / peak if peak > 0 else g, float(unit.detach()), layer, channel, row, col,
                       rf_box(info, row, col, size), extent)
