"""Architecture: every layer the network runs, with its geometry, size, cost and receptive field."""

from __future__ import annotations

import streamlit as st

from app.inside import figures, tasks
from app.shell import charts, resources
from app.shell.pickers import labels_task
from vizcore.core.labels import SEP
from vizcore.inside.architecture import residual_blocks

st.title("🏛️ Architecture — every layer, its cost and what it can see")
loaded = resources.current_model()
with st.spinner("Tracing the network…"):
    table = resources.compute(tasks.arch_table, loaded, None)
frame = figures.arch_frame(table)
plain = resources.compute(labels_task, loaded, None)
frame.insert(2, "in plain words", [SEP.join(p for p in (plain[n].where, plain[n].what) if p)
                                   if n in plain else "" for n in frame["layer"]])
spec = loaded.spec
last_rf = next((r for r in reversed(table.rows) if r.rf_size and not r.global_context), None)

m = st.columns(5)
m[0].metric("Parameters", f"{table.total_params / 1e6:.2f} M")
m[1].metric("Multiply-accumulates", f"{table.total_macs / 1e9:.2f} G",
            help=f"per {table.input_size}×{table.input_size} image; conv + linear layers")
m[2].metric("Depth", f"{table.depth} layers", help="convolution + fully connected layers executed")
m[3].metric("Last receptive field", f"{last_rf.rf_size} px" if last_rf else "–",
            help="of the last spatial layer; larger than the image means every unit can see it all")
m[4].metric("Residual / concat joins",
            f"{sum('residual' in r.labels for r in table.rows)} / "
            f"{sum('concat' in r.labels for r in table.rows)}")
st.caption(f"{spec.display_name}{f' ({spec.year})' if spec.year else ''} · "  # year 0: your own model
           f"input {table.input_size}×{table.input_size}×{spec.channels} · "
           "shapes are channels×height×width · parameters are counted once per module · "
           "RF = theoretical receptive field of the layer's output, jump = input pixels between "
           "neighbouring units.")

c1, c2 = st.columns([2, 3])
query = c1.text_input("Filter rows", placeholder="e.g. layer3, Conv2d, depthwise, residual",
                      key="arch_query")
kinds = c2.multiselect("Show types", sorted(frame["type"].unique()), key=f"arch_types::{spec.name}",
                       placeholder="all types")
view = frame
if kinds:
    view = view[view["type"].isin(kinds)]
if query:
    q = query.strip().lower()
    view = view[view.apply(lambda r: q in f"{r['layer']} {r['in plain words']} {r['type']} {r['labels']}"
                           .lower(), axis=1)]
st.dataframe(
    view, hide_index=True, width="stretch", height=420,
    column_config={
        "params": st.column_config.NumberColumn(format="localized"),
        "MACs": st.column_config.NumberColumn(format="compact"),
        "labels": st.column_config.TextColumn(width="small"),
        "kernel": st.column_config.TextColumn(width=60), "stride": st.column_config.TextColumn(width=60),
        "padding": st.column_config.TextColumn(width=60),
        "dilation": st.column_config.TextColumn(width=60), "groups": st.column_config.TextColumn(width=60),
    },
)
st.caption(f"{len(view)} of {len(frame)} rows · totals: {table.total_params:,} parameters, "
           f"{table.total_macs:,} MACs.")

left, right = st.columns([3, 2], gap="large")
with left:
    charts.show(figures.depth_chart(table), width="stretch")
with right:
    blocks = residual_blocks(table)
    st.markdown("**Vocabulary in this model**")
    counts = {lab: sum(lab in r.labels for r in table.rows)
              for lab in ("depthwise", "grouped", "dilated", "1×1", "strided", "residual", "concat",
                          "SE gate", "global pool", "fully connected")}
    st.markdown("\n".join(f"- **{lab}**: {n}" for lab, n in counts.items() if n))
    if blocks:
        st.caption(f"Residual connections in: {', '.join(blocks[:6])}{' …' if len(blocks) > 6 else ''}")
    with st.expander("What do these words mean?", expanded=True):
        st.markdown(
            "- **1×1 convolution**: mixes channels at each place, no spatial extent — cheap way to "
            "shrink or grow the channel count (a *bottleneck*).\n"
            "- **depthwise**: one k×k filter per channel (groups = channels); followed by a 1×1 "
            "it makes a *depthwise-separable* convolution, several times fewer MACs.\n"
            "- **grouped**: channels split into groups that do not see each other.\n"
            "- **dilated**: kernel taps spread apart — bigger receptive field, same weights.\n"
            "- **residual**: the block's input is added to its output, so gradients flow easily.\n"
            "- **concat**: branch outputs stacked along channels (Inception, DenseNet).\n"
            "- **SE gate**: a global average of the map rescales each channel "
            "(squeeze-excitation); it sees the whole image but does not widen the RF.\n"
            "- **Receptive field** grows by (k−1)×jump per layer; stride and pooling multiply the "
            "jump, so it grows faster after every downsampling.")
