"""Architectures compared: block extraction from the real graph, MACs against the architecture table
and torch's FLOP counter, savings against hand counts, model facts against torchvision's metadata.

Models are untrained builds on the ``meta`` device (shapes only, no downloads, milliseconds)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from models.registry import get_spec, list_specs
from tests.conftest import assert_clean, count_hooks
from vizcore.architectures.blocks import BlockRef
from vizcore.architectures.cards import REFERENCE_BLOCKS, card_blocks, input_shapes, scan_model, totals
from vizcore.architectures.catalog import build_on_meta, count_structure, published
from vizcore.architectures.extract import extract_block
from vizcore.architectures.savings import (
    depthwise_separable,
    facts,
    inception_bottlenecks,
    resnet_bottleneck,
    savings,
    stacked_3x3,
    strided_stem,
)
from vizcore.inside.architecture import architecture

_MODELS: dict[str, nn.Module] = {}
_TABLES: dict[str, object] = {}
_GRAPHS: dict[tuple[str, BlockRef], object] = {}


def meta(name: str) -> nn.Module:
    """An untrained ``name`` built on the meta device (shared by the tests of this module)."""
    if name not in _MODELS:
        _MODELS[name] = build_on_meta(get_spec(name).build)
    return _MODELS[name]


def graph(name: str, ref: BlockRef):
    """The traced block (cached: extraction runs one meta forward of the whole model)."""
    if (name, ref) not in _GRAPHS:
        _GRAPHS[name, ref] = extract_block(meta(name), ref, input_size=get_spec(name).input_size)
    return _GRAPHS[name, ref]


def table(name: str):
    """The architecture table of ``name`` (its own trace, independent of the block extractor)."""
    if name not in _TABLES:
        _TABLES[name] = architecture(meta(name), input_size=get_spec(name).input_size)
    return _TABLES[name]


def test_inception_module_has_four_branches_joined_by_concat() -> None:
    g = graph("googlenet", BlockRef("inception3a"))
    branches = g.branches()
    assert len(branches) == 4
    (cat,) = g.joins("concat")
    assert len(g.predecessors(cat.id)) == 4
    ends = [g.node(b[-1]).out_shape for b in branches]
    assert ends == [(64, 28, 28), (128, 28, 28), (32, 28, 28), (32, 28, 28)]
    assert cat.out_shape == (256, 28, 28) and g.input_shape == (192, 28, 28)
    kernels = [[c.kernel for n in b for c in g.node(n).convs] for b in branches]
    assert kernels == [[1], [1, 3], [1, 3], [1]]  # torchvision: 3×3 where the paper drew 5×5
    assert any("MaxPool2d" in g.node(n).label for n in branches[3])


def test_resnet_blocks_have_their_skip() -> None:
    basic = graph("resnet18", BlockRef("layer1.0"))
    (add,) = basic.joins("add")
    inp = next(n.id for n in basic.nodes if n.kind == "input")
    assert inp in basic.predecessors(add.id)  # identity: the input itself reaches the add
    assert [] in basic.branches()
    bottleneck = graph("resnet50", BlockRef("layer1.0"))
    (add,) = bottleneck.joins("add")
    skip = min(bottleneck.branches(), key=len)
    skip_convs = [c for n in skip for c in bottleneck.node(n).convs]
    assert [(c.kernel, c.c_in, c.c_out) for c in skip_convs] == [(1, 64, 256)]
    assert add.out_shape == (256, 56, 56)


def test_dense_block_concatenates_every_earlier_output() -> None:
    g = graph("densenet121", BlockRef("features.denseblock1"))
    cats = g.joins("concat")
    assert len(cats) == 6
    assert [c.out_shape[0] for c in cats] == [64 + 32 * k for k in range(1, 7)]
    inp = next(n.id for n in g.nodes if n.kind == "input")
    assert all(inp in g.predecessors(c.id) for c in cats)  # the block input is reused by every concat
    assert len(g.predecessors(cats[-1].id)) == 7
    layers = [n for n in g.nodes if len(n.convs) == 2]
    assert [n.label for n in layers] == [f"denselayer{i}" for i in range(1, 7)]


def test_mobilenet_block_has_a_depthwise_conv_and_skip() -> None:
    g = graph("mobilenet_v2", BlockRef("features.3"))
    dw = [c for c in g.convs() if c.depthwise]
    assert [(c.c_in, c.groups, c.kernel) for c in dw] == [(144, 144, 3)]
    assert g.joins("add")


def test_efficientnet_b0_block_has_squeeze_excitation() -> None:
    g = graph("efficientnet_b0", BlockRef("features.2.1"))
    (gate,) = g.joins("mul")
    assert gate.out_shape == (144, 56, 56)
    squeeze = [c for c in g.convs() if c.out_shape[1:] == (1, 1)]
    assert [(c.c_in, c.c_out) for c in squeeze] == [(144, 6), (6, 144)]
    pred_shapes = sorted(g.node(p).out_shape for p in g.predecessors(gate.id))
    assert pred_shapes == [(144, 1, 1), (144, 56, 56)]  # a per-channel scale times the map
    assert any(c.depthwise for c in g.convs()) and g.joins("add")
    assert any("squeeze-excitation" in f for f in facts(g))


def _in_block(name: str, ref: BlockRef) -> bool:
    if not ref.path:
        return True
    if ref.start is None:
        return name == ref.path or name.startswith(ref.path + ".")
    head = ref.path + "."
    return name.startswith(head) and ref.start <= int(name[len(head):].split(".")[0]) < ref.stop


ALL_BLOCKS = [(b.model, b.ref) for blocks in REFERENCE_BLOCKS.values() for b in blocks]


@pytest.mark.parametrize(("model", "ref"), ALL_BLOCKS, ids=[f"{m}:{r.label}" for m, r in ALL_BLOCKS])
def test_block_macs_and_params_equal_its_rows_in_the_architecture_table(model: str, ref: BlockRef) -> None:
    net = meta(model)
    g = graph(model, ref)
    rows = [r for r in table(model).rows if _in_block(r.name, ref)]
    assert g.total_macs == sum(r.macs for r in rows) > 0
    assert g.total_params == sum(r.params for r in rows)
    # torch's own counter is a third opinion: FLOPs = 2 × MACs for conv / linear
    from vizcore.architectures.blocks import block_module

    block, _ = block_module(net, ref)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        block(torch.zeros((1, *g.input_shape), device="meta"))
    assert counter.get_total_flops() == 2 * g.total_macs
    assert count_hooks(net) == 0


def test_inception_bottleneck_saving_matches_a_hand_count() -> None:
    g = graph("googlenet", BlockRef("inception3a"))
    b2, b3 = inception_bottlenecks(g)
    hw = 28 * 28
    assert (b2.ours_macs, b2.alt_macs) == (hw * (192 * 96 + 96 * 128 * 9), hw * 192 * 128 * 9)
    assert (b2.ours_macs, b2.alt_macs) == (101_154_816, 173_408_256)
    assert (b3.ours_macs, b3.alt_macs) == (hw * (192 * 16 + 16 * 32 * 9), hw * 192 * 32 * 9)
    assert (b3.ours_params, b3.alt_params) == (192 * 16 + 16 * 32 * 9, 192 * 32 * 9)
    five = inception_bottlenecks(g, kernel=5)[-1]
    assert (five.ours_macs, five.alt_macs) == (hw * (192 * 16 + 16 * 32 * 25), hw * 192 * 32 * 25)
    assert five.mac_ratio == pytest.approx(120_422_400 / 12_443_648)


def test_other_savings_match_hand_counts() -> None:
    (dws,) = depthwise_separable(graph("mobilenet_v2", BlockRef("features.3")))
    hw = 56 * 56
    assert (dws.ours_macs, dws.alt_macs) == (hw * (144 * 9 + 144 * 24), hw * 144 * 24 * 9)
    (bn,) = resnet_bottleneck(graph("resnet50", BlockRef("layer1.0")))
    assert bn.ours_macs == hw * (64 * 64 + 64 * 64 * 9 + 64 * 256)
    assert bn.alt_macs == hw * (64 * 256 * 9 + 256 * 256 * 9)
    (cnx,) = depthwise_separable(graph("convnext_tiny", BlockRef("features.1.0")))
    assert (cnx.ours_macs, cnx.alt_macs) == (hw * 96 * 49, hw * 96 * 96 * 49)
    pair, triple = stacked_3x3(graph("vgg16", BlockRef("features", 10, 17)))
    assert (pair.ours_params, pair.alt_params) == (2 * 9 * 256 * 256, 25 * 256 * 256)
    assert triple.alt_macs == hw * 128 * 256 * 49
    (stem,) = strided_stem(graph("alexnet", BlockRef("features", 0, 6)))
    assert stem.ours_macs == 55 * 55 * 64 * 3 * 121 and stem.alt_macs == 218 * 218 * 64 * 3 * 121
    assert resnet_bottleneck(graph("resnet18", BlockRef("layer1.0"))) == []  # a basic block has none
    assert "0 weights and 0 MACs" in facts(graph("resnet18", BlockRef("layer1.0")))[0]


def test_dense_bottleneck_is_priced_honestly_per_block() -> None:
    rows = scan_model(meta("densenet121"), "_DenseBlock", (1, 3, 224, 224))
    ratios = [s.mac_ratio for r in rows for s in r.savings]
    assert len(rows) == 4 and ratios[0] < 1 < ratios[2]  # block 1 inputs are narrower than 4·k = 128
    kinds = totals(rows)
    assert sum(v[0] for v in kinds.values()) == 4


@pytest.mark.parametrize("spec", [s for s in list_specs() if hasattr(s.weights, "arch")],
                         ids=lambda s: s.name)
def test_structure_count_matches_torchvision_metadata(spec) -> None:
    pub = published(spec)
    s = count_structure(meta(spec.name), (1, 3, spec.input_size, spec.input_size))
    assert s.params == pub.params
    assert s.macs / 1e9 == pytest.approx(pub.gflops, abs=6e-4)  # torchvision rounds to 3 decimals
    assert pub.top1 is not None and 50 < pub.top1 < 90
    assert (s.macs, s.depth) == (table(spec.name).total_macs, table(spec.name).depth)


def test_unknown_accuracy_is_reported_as_unknown() -> None:
    class Spec:
        name = "someone_elses_model"
        weights = object()

    pub = published(Spec())
    assert pub.top1 is None and pub.gflops is None and "no ImageNet" in pub.source


def test_extraction_leaves_a_real_model_clean_and_refuses_bad_refs() -> None:
    torch.manual_seed(0)
    net = get_spec("resnet18").build().eval().requires_grad_(False)
    g = extract_block(net, BlockRef("layer2.0"), input_size=64)
    assert g.total_macs > 0 and g.input_shape == (64, 16, 16)
    assert_clean(net)
    with pytest.raises(ValueError, match="layer2"):
        extract_block(net, BlockRef("layer2.9"), input_size=64)
    with pytest.raises(ValueError, match="Sequential"):
        extract_block(net, BlockRef("layer1.0", 0, 2), input_size=64)
    with pytest.raises(ValueError, match="outside"):
        extract_block(meta("vgg16"), BlockRef("features", 10, 99))
    assert_clean(net)


def test_every_registered_family_has_a_drawable_card() -> None:
    fams: dict[str, list[str]] = {}
    for s in list_specs():
        fams.setdefault(s.family, []).append(s.name)
    for fam, names in fams.items():
        blocks = card_blocks(fam, names)
        assert blocks, fam
        b = blocks[0]
        spec = get_spec(b.model)
        g = extract_block(meta(b.model), b.ref, input_size=spec.input_size,
                          channels=getattr(spec, "channels", 3))
        assert g.nodes[0].kind == "input" and g.nodes[-1].kind == "output"
        assert savings(g) is not None


def test_input_shapes_in_one_forward() -> None:
    shapes = input_shapes(meta("resnet18"), ["layer1.0", "layer4.1"], (1, 3, 224, 224))
    assert shapes == {"layer1.0": (1, 64, 56, 56), "layer4.1": (1, 512, 7, 7)}
    assert count_hooks(meta("resnet18")) == 0
