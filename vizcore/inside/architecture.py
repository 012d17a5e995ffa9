"""The architecture table: every executed layer with its geometry, output shape, parameters,
multiply-accumulates (MACs) and theoretical receptive field, traced from the real model.

MACs count the multiplications of convolutions and linear layers for one image (batch 1); all
other layers count 0. Parameters are counted once per module, even when it runs twice.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from vizcore.inside.receptive import Trace, trace_model


@dataclass(frozen=True)
class LayerRow:
    """One row of the table (``kernel`` etc. are "" for layers without that property)."""

    index: int
    name: str
    type: str
    kernel: str
    stride: str
    padding: str
    dilation: str
    groups: str
    out_shape: tuple[int, ...]
    params: int
    macs: int
    rf_size: int | None
    rf_jump: int | None
    global_context: bool
    labels: tuple[str, ...]


@dataclass(frozen=True)
class ArchTable:
    """All rows in execution order plus totals (``total_params`` == ``sum(p.numel())``)."""

    model_name: str
    input_size: int
    rows: tuple[LayerRow, ...]
    total_params: int
    total_macs: int

    @property
    def depth(self) -> int:
        """Number of conv + linear layers executed (the usual "depth")."""
        return sum(1 for r in self.rows if r.type in ("Conv2d", "Linear"))


def _fmt(v: object) -> str:
    if isinstance(v, (tuple, list)):
        return str(v[0]) if len(set(v)) == 1 else "×".join(str(x) for x in v)
    return "" if v is None else str(v)


def conv_labels(mod: nn.Conv2d) -> tuple[str, ...]:
    """Course vocabulary for a convolution: depthwise, grouped, dilated, 1×1, strided."""
    labels = []
    if mod.groups > 1 and mod.groups == mod.in_channels:
        labels.append("depthwise")
    elif mod.groups > 1:
        labels.append("grouped")
    if max(mod.dilation) > 1:
        labels.append("dilated")
    if tuple(mod.kernel_size) == (1, 1):
        labels.append("1×1")
    if max(mod.stride) > 1:
        labels.append("strided")
    return tuple(labels)


def layer_macs(mod: nn.Module, out_shape: tuple[int, ...]) -> int:
    """Multiply-accumulates of one call of ``mod`` producing ``out_shape`` (no batch dim)."""
    numel = 1
    for d in out_shape:
        numel *= int(d)
    if isinstance(mod, nn.Conv2d):
        kh, kw = mod.kernel_size
        return numel * (mod.in_channels // mod.groups) * kh * kw
    if isinstance(mod, nn.Linear):
        return numel * mod.in_features
    return 0


_JOIN_LABEL = {"residual add": "residual", "concat": "concat", "SE gate": "SE gate"}


def build_table(model: nn.Module, trace: Trace, *, model_name: str = "") -> ArchTable:
    """Turn a ``trace_model`` trace into table rows (leaf modules and joins, execution order)."""
    counted: set[str] = set()
    rows: list[LayerRow] = []
    for row in trace.rows:
        geo = {"kernel": "", "stride": "", "padding": "", "dilation": "", "groups": ""}
        params = macs = 0
        labels: tuple[str, ...] = ()
        if row.kind == "module":
            mod = model.get_submodule(row.name)
            if row.name not in counted:
                params = sum(p.numel() for p in mod.parameters())
                counted.add(row.name)
            macs = layer_macs(mod, row.out_shape)
            for key in geo:
                attr = "kernel_size" if key == "kernel" else key
                if hasattr(mod, attr) and not isinstance(getattr(mod, attr), bool):
                    geo[key] = _fmt(getattr(mod, attr))
            if isinstance(mod, nn.Conv2d):
                labels = conv_labels(mod)
            elif isinstance(mod, nn.Linear):
                labels = ("fully connected",)
            elif "Pool" in row.type and len(row.out_shape) == 3 and row.out_shape[1] == 1:
                labels = ("global pool",)
        else:
            labels = (_JOIN_LABEL[row.kind],)
        rows.append(LayerRow(
            len(rows), row.name, row.type, geo["kernel"], geo["stride"], geo["padding"],
            geo["dilation"], geo["groups"], row.out_shape, params, macs,
            row.rf.size if row.rf else None, row.rf.jump if row.rf else None, row.global_context,
            labels))
    # parameters owned directly by containers (ConvNeXt's layer scale) get a row of their own
    for name, mod in model.named_modules():
        own = sum(p.numel() for p in mod.parameters(recurse=False))
        if own and any(True for _ in mod.children()):
            rows.append(LayerRow(len(rows), name or "(model)", f"{type(mod).__name__} parameters",
                                 "", "", "", "", "", (), own, 0, None, None, False, ("scale",)))
    total = sum(r.params for r in rows)
    return ArchTable(model_name, trace.input_size, tuple(rows), total, sum(r.macs for r in rows))


def architecture(model: nn.Module, *, input_size: int = 224, model_name: str = "") -> ArchTable:
    """Trace ``model`` on a (1, 3, S, S) input, S = ``input_size``, and build its table."""
    return build_table(model, trace_model(model, input_size=input_size), model_name=model_name)


def residual_blocks(table: ArchTable) -> list[str]:
    """Names of the modules that contain a residual connection."""
    return list(dict.fromkeys(r.name for r in table.rows if "residual" in r.labels))
