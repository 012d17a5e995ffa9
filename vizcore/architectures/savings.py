"""What each architectural idea buys, computed from the traced block (never quoted).

Each detector looks for one pattern in a ``BlockGraph`` and prices the real layers against the
design they replace, with the same channels and output size:

* 1×1 bottleneck before a k×k branch (Inception) vs the k×k conv on the full input;
* 1×1 bottleneck inside every dense layer (DenseNet-B) vs a 3×3 on the concatenated input;
* ResNet bottleneck (1×1 → 3×3 → 1×1) vs two 3×3 convs at the block's output width;
* depthwise separable (k×k depthwise + 1×1) vs one standard k×k conv (MobileNet, EfficientNet,
  ConvNeXt's 7×7 depthwise);
* a stack of n 3×3 convs (VGG) vs one (2n+1)×(2n+1) conv with the same receptive field;
* a strided stem (AlexNet) vs the same kernel at stride 1.

Costs count weights (no bias) and multiply-accumulates for one image: ``MACs = H_out·W_out·C_out·
(C_in / groups)·k²``, ``params = C_out·(C_in / groups)·k²``.
"""

from __future__ import annotations

from dataclasses import dataclass

from vizcore.architectures.blocks import BlockGraph, ConvInfo


@dataclass(frozen=True)
class Saving:
    """The real design (``ours``) priced against the alternative it replaces."""

    title: str
    ours: str
    alternative: str
    ours_macs: int
    alt_macs: int
    ours_params: int
    alt_params: int

    @property
    def mac_ratio(self) -> float:
        """How many times more MACs the alternative costs (> 1: the idea saves)."""
        return self.alt_macs / self.ours_macs if self.ours_macs else float("inf")

    @property
    def param_ratio(self) -> float:
        """How many times more weights the alternative has."""
        return self.alt_params / self.ours_params if self.ours_params else float("inf")


def conv_cost(c_in: int, c_out: int, k: int, out_hw: tuple[int, int], *, groups: int = 1) -> tuple[int, int]:
    """(MACs, weights) of a k×k conv producing ``c_out``×H×W from ``c_in`` channels."""
    weights = c_out * (c_in // groups) * k * k
    return out_hw[0] * out_hw[1] * weights, weights


def _cost(c: ConvInfo) -> tuple[int, int]:
    return conv_cost(c.c_in, c.c_out, max(c.kernel, 1), _hw(c), groups=c.groups)


def _hw(c: ConvInfo) -> tuple[int, int]:
    return (c.out_shape[1], c.out_shape[2]) if len(c.out_shape) == 3 else (1, 1)


def _name(c: ConvInfo) -> str:
    dw = " depthwise" if c.depthwise else ""
    return f"{c.kernel}×{c.kernel}{dw} {c.c_in}→{c.c_out}"


def _sum(costs: list[tuple[int, int]]) -> tuple[int, int]:
    return sum(m for m, _ in costs), sum(p for _, p in costs)


def _saving(title: str, ours: list[ConvInfo], alt_desc: str, alt: list[tuple[int, int]]) -> Saving:
    om, op = _sum([_cost(c) for c in ours])
    am, ap = _sum(alt)
    return Saving(title, " + ".join(_name(c) for c in ours), alt_desc, om, am, op, ap)


def _spatial(c: ConvInfo) -> bool:
    return c.kernel > 0 and len(c.out_shape) == 3 and c.out_shape[1] * c.out_shape[2] > 1


def inception_bottlenecks(graph: BlockGraph, *, kernel: int | None = None) -> list[Saving]:
    """Branches that start with a 1×1 conv and continue with a k×k conv, next to other branches
    (a concat join). ``kernel`` prices a different k (e.g. 5, as in the paper) for both sides."""
    with_convs = [b for b in graph.branches() if any(graph.node(n).convs for n in b)]
    if not graph.joins("concat") or len(with_convs) < 2:
        return []
    out = []
    for i, branch in enumerate(graph.branches(), 1):
        convs = [c for nid in branch for c in graph.node(nid).convs]
        if len(convs) < 2 or convs[0].kernel != 1 or convs[1].kernel < 2 or convs[1].groups != 1:
            continue
        red, big = convs[0], convs[1]
        k = kernel or big.kernel
        ours = [conv_cost(red.c_in, red.c_out, 1, _hw(red)), conv_cost(big.c_in, big.c_out, k, _hw(big))]
        alt = conv_cost(red.c_in, big.c_out, k, _hw(big))
        om, op = _sum(ours)
        out.append(Saving(
            f"Branch {i}: 1×1 bottleneck before the {k}×{k}",
            f"1×1 {red.c_in}→{red.c_out}, then {k}×{k} {big.c_in}→{big.c_out}",
            f"{k}×{k} {red.c_in}→{big.c_out} on the full input", om, alt[0], op, alt[1]))
    return out


def dense_bottlenecks(graph: BlockGraph) -> list[Saving]:
    """Every dense layer's 1×1 (4·growth channels) + 3×3 vs a 3×3 on the concatenated input."""
    layers = [n.convs for n in graph.nodes if len(n.convs) == 2 and graph.joins("concat")
              and n.convs[0].kernel == 1 and n.convs[1].kernel == 3]
    if not layers:
        return []
    ours = [c for pair in layers for c in pair]
    alt = [conv_cost(a.c_in, b.c_out, 3, _hw(b)) for a, b in layers]
    s = _saving(f"1×1 bottleneck in all {len(layers)} dense layers", ours,
                "a 3×3 straight on each layer's concatenated input", alt)
    return [Saving(s.title, f"{len(layers)} × (1×1 → 3×3), growth {layers[0][1].c_out}", s.alternative,
                   s.ours_macs, s.alt_macs, s.ours_params, s.alt_params)]


def resnet_bottleneck(graph: BlockGraph) -> list[Saving]:
    """1×1 → 3×3 → 1×1 on the main path of a residual block vs two 3×3 at the output width."""
    if not graph.joins("add"):
        return []
    main = max(graph.branches(), key=len)
    convs = [c for nid in main for c in graph.node(nid).convs if _spatial(c)]
    if [c.kernel for c in convs] != [1, 3, 1] or any(c.groups != 1 for c in convs):
        return []
    first, last = convs[0], convs[-1]
    alt = [conv_cost(first.c_in, last.c_out, 3, _hw(last)), conv_cost(last.c_out, last.c_out, 3, _hw(last))]
    return [_saving("Bottleneck (1×1 → 3×3 → 1×1)", convs,
                    f"two 3×3 convs at full width ({first.c_in}→{last.c_out}→{last.c_out})", alt)]


def depthwise_separable(graph: BlockGraph) -> list[Saving]:
    """Each depthwise conv with the 1×1 that follows it (skipping squeeze-excitation's 1×1 on a
    1×1 map; ConvNeXt's pointwise ``Linear``) vs one standard conv with the same kernel."""
    convs = [c for c in graph.convs() if _spatial(c) or c.kernel == 0]
    out = []
    for i, d in enumerate(convs):
        if not d.depthwise:
            continue
        point = next((c for c in convs[i + 1:] if c.kernel in (0, 1) and c.groups == 1), None)
        if point is None:
            continue
        hw = _hw(d)
        dm, dp = _cost(d)
        if point.kernel == 0:  # ConvNeXt: the pointwise layers are an MLP, the depthwise mixes space
            alt = conv_cost(d.c_in, d.c_out, d.kernel, hw)
            out.append(Saving(f"Depthwise {d.kernel}×{d.kernel}", _name(d),
                              f"one standard {d.kernel}×{d.kernel} conv {d.c_in}→{d.c_out}", dm, alt[0],
                              dp, alt[1]))
            continue
        pm, pp = hw[0] * hw[1] * point.c_in * point.c_out, point.c_in * point.c_out
        alt = conv_cost(d.c_in, point.c_out, d.kernel, hw)
        out.append(Saving(
            f"Depthwise separable {d.kernel}×{d.kernel}",
            f"{_name(d)}, then 1×1 {point.c_in}→{point.c_out}",
            f"one standard {d.kernel}×{d.kernel} conv {d.c_in}→{point.c_out}", dm + pm, alt[0], dp + pp,
            alt[1]))
    return out


def stacked_3x3(graph: BlockGraph) -> list[Saving]:
    """A run of n ≥ 2 stride-1 3×3 convs in a plain stack vs one (2n+1)×(2n+1) conv (same RF)."""
    if graph.joins("add") or graph.joins("concat"):
        return []
    run: list[ConvInfo] = []
    best: list[ConvInfo] = []
    for c in graph.convs():
        run = [*run, c] if c.kernel == 3 and c.stride == 1 and c.groups == 1 else []
        best = run if len(run) > len(best) else best
    out = []
    for stack in ([best[-2:]] if len(best) > 2 else []) + ([best] if len(best) >= 2 else []):
        k = 2 * len(stack) + 1
        alt = [conv_cost(stack[0].c_in, stack[-1].c_out, k, _hw(stack[-1]))]
        out.append(_saving(f"{len(stack)} stacked 3×3 convs vs one {k}×{k}", stack,
                           f"one {k}×{k} conv {stack[0].c_in}→{stack[-1].c_out} (same receptive field)",
                           alt))
    return out


def strided_stem(graph: BlockGraph) -> list[Saving]:
    """A large strided first conv on the image vs the same kernel at stride 1."""
    convs = graph.convs()
    if not convs or graph.input_shape[0] != 3 or convs[0].stride < 2:
        return []
    c = convs[0]
    side = (c.in_shape[1] + 2 * c.padding - c.kernel) + 1
    alt = [conv_cost(c.c_in, c.c_out, c.kernel, (side, side))]
    s = _saving(f"Stride {c.stride} in the first {c.kernel}×{c.kernel} conv", [c],
                f"the same conv at stride 1 ({side}×{side} outputs)", alt)
    return [s]


DETECTORS = (inception_bottlenecks, dense_bottlenecks, resnet_bottleneck, depthwise_separable,
             stacked_3x3, strided_stem)


def savings(graph: BlockGraph) -> list[Saving]:
    """Every idea found in ``graph``, priced."""
    return [s for detect in DETECTORS for s in detect(graph)]


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def facts(graph: BlockGraph) -> list[str]:
    """Computed one-liners about the joins of ``graph``: what a skip, a concat or a gate costs."""
    out = []
    total = graph.total_macs or 1
    for add in graph.joins("add"):
        skip = [b for b in graph.branches() if len(b) < max(len(x) for x in graph.branches())]
        path = skip[0] if skip else []
        convs = [c for nid in path for c in graph.node(nid).convs]
        if not convs:
            out.append(f"The identity skip has 0 weights and 0 MACs: it only adds {_numel(add.out_shape):,} "
                       f"numbers ({'×'.join(map(str, add.out_shape))}) to the block's output.")
        else:
            macs = sum(c.macs for c in convs)
            names = ", ".join(_name(c) for c in convs)
            out.append(f"The projection skip ({names}, stride {convs[0].stride}) costs"
                       f" {macs:,} MACs = {100 * macs / total:.1f} % of the block, because the "
                       "shape changes.")
    cats = graph.joins("concat")
    if cats:
        last = cats[-1]
        out.append(f"{len(cats)} concatenation{'s' if len(cats) > 1 else ''}: channels grow from "
                   f"{graph.input_shape[0]} to {last.out_shape[0]} at 0 weights and 0 MACs — earlier "
                   "features are passed on, not recomputed.")
    for gate in graph.joins("mul"):
        se = [c for c in graph.convs() if len(c.out_shape) == 3 and c.out_shape[1] * c.out_shape[2] == 1]
        if se:
            p, m = sum(c.params for c in se), sum(c.macs for c in se)
            out.append(f"The squeeze-excitation gate costs {p:,} parameters "
                       f"({100 * p / max(graph.total_params, 1):.0f} % of the block) and {m:,} MACs "
                       f"({100 * m / total:.2f} %): it works on one number per channel "
                       f"({gate.out_shape[0]} channels), not on the "
                       f"{gate.out_shape[1]}×{gate.out_shape[2]} map.")
    return out
