"""Key-idea cards: one family at a time, its real block traced from the model and the saving priced."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app.architectures import figures, tasks, texts
from app.shell import charts
from models.registry import list_specs
from vizcore.architectures.cards import CardBlock, card_blocks
from vizcore.architectures.savings import Saving


def _families() -> dict[str, list[str]]:
    """Family → registered model names, families in order of their first model's year."""
    fams: dict[str, list[str]] = {}
    for spec in sorted(list_specs(), key=lambda s: s.year):
        fams.setdefault(spec.family, []).append(spec.name)
    return fams


def _saving_frame(items: list[Saving]) -> pd.DataFrame:
    return pd.DataFrame([{
        "idea": s.title, "real layers": s.ours, "instead of": s.alternative,
        "MACs (real)": s.ours_macs, "MACs (instead)": s.alt_macs,
        "× MACs": round(s.mac_ratio, 2), "weights (real)": s.ours_params,
        "weights (instead)": s.alt_params, "× weights": round(s.param_ratio, 2),
    } for s in items])


def _sentence(s: Saving) -> str:
    if s.mac_ratio >= 1:
        return (f"**{s.title}** — {s.alternative} would cost **{s.mac_ratio:.1f}×** the MACs "
                f"({figures.compact(s.alt_macs)} vs {figures.compact(s.ours_macs)} for {s.ours}) and "
                f"{s.param_ratio:.1f}× the weights.")
    return (f"**{s.title}** — here the real layers cost **more** ({figures.compact(s.ours_macs)} vs "
            f"{figures.compact(s.alt_macs)} MACs): the input is still narrower than the bottleneck. "
            "See the whole-model sum below.")


def _block_picker(family: str, blocks: tuple[CardBlock, ...]) -> CardBlock:
    if len(blocks) == 1:
        return blocks[0]
    captions = [b.caption for b in blocks]
    picked = st.radio("Block", captions, key=f"arch_block::{family}", horizontal=True)
    return blocks[captions.index(picked)] if picked in captions else blocks[0]


def _scan(data: tasks.CardData, scan_type: str) -> None:
    if not data.totals:
        return
    st.markdown(f"**The same ideas over the whole model** (every `{scan_type}`):")
    st.dataframe(pd.DataFrame([{
        "idea": kind, "blocks": n, "MACs (real)": om, "MACs (instead)": am,
        "× MACs": round(am / om, 2) if om else None, "weights (real)": op, "weights (instead)": ap,
    } for kind, (n, om, am, op, ap) in data.totals.items()]), hide_index=True, width="stretch",
        column_config={c: st.column_config.NumberColumn(format="compact")
                       for c in ("MACs (real)", "MACs (instead)", "weights (real)", "weights (instead)")})


def render() -> None:
    """Draw the key-ideas view."""
    fams = _families()
    family = st.segmented_control("Family", list(fams), key="arch_family", default=next(iter(fams)))
    family = family or next(iter(fams))
    headline, body = texts.idea(family)
    blocks = card_blocks(family, fams[family])
    with st.container(border=True):
        st.subheader(f"{family}: {headline}")
        st.markdown(body)
        block = _block_picker(family, blocks)
        with st.spinner(f"Tracing {block.ref.label} of {block.model} with torch.fx…"):
            data = tasks.cached(tasks.card, block)
        g = data.graph
        st.caption(f"**{g.model_name} · `{block.ref.label}`** — traced with `torch.fx` from the real "
                   f"model, shapes for one {tasks.image_shape_text(block.model)} image. Input "
                   f"{figures.shape_text(g.input_shape)} · **{g.total_params:,} parameters · "
                   f"{g.total_macs:,} MACs** in this block (the sum of its layers in the Architecture "
                   "table). Hover a box for its layers.")
        for s in data.savings:
            st.markdown(f"- {_sentence(s)}")
        for fact in data.facts:
            st.markdown(f"- {fact}")
        branches = g.branches() if 1 < len(g.branches()) <= 4 else []  # not DenseNet's 7 inputs
        if branches:
            st.markdown("**Output of each branch:** " + " · ".join(
                f"{i}: {figures.shape_text(g.node(b[-1]).out_shape) if b else 'identity'}"
                for i, b in enumerate(branches, 1)))
        charts.show(figures.block_figure(g), width="stretch", config={"displayModeBar": False},
                    key=f"arch_block_fig::{family}")
        if data.savings:
            st.dataframe(_saving_frame(data.savings), hide_index=True, width="stretch")
        _scan(data, block.scan)
