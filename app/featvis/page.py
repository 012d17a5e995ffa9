"""Feature visualisation: images optimised to excite one unit, a layer atlas, and the user's own
photos (and patches) that excite the same unit most."""

from __future__ import annotations

import time

import streamlit as st

from app.featvis import figures, photos, runner, tasks
from app.inside import tasks as inside_tasks
from app.shell import charts, pickers, resources
from vizcore.featvis import Settings, Target
from vizcore.inside.features import spatial_layers

QUALITY = {"Fast (128 px)": (128, 64), "Quality (224 px)": (224, 160)}
VIEWS = ("One unit", "Layer atlas", "Dataset exemplars")
KINDS = {"Channel": "channel", "Neuron (centre)": "neuron", "Class logit": "logit"}
SAMPLES = "samples"  # the "Photos" choice of the bundled samples + uploads (else a folder set key)

st.title("✨ Feature visualisation — what makes a unit fire?")
loaded = resources.current_model()
resources.untrained_banner(loaded)
trace = resources.compute(inside_tasks.model_trace, loaded, None)
layers = spatial_layers(trace)
name = loaded.spec.name
view = st.segmented_control("View", VIEWS, default=VIEWS[0], key="fv_view") or VIEWS[0]

c1, c2, c3, c4, c5 = st.columns([3, 2, 1, 2, 1])
kind = KINDS[c2.selectbox("Maximise", list(KINDS), key="fv_kind", help="Channel: the mean of the "
                          "whole feature map · Neuron: the unit at the centre of the map · Class "
                          "logit: the score of one ImageNet class (the whole network runs)")] \
    if view == VIEWS[0] else "channel"
layer = pickers.layer_select(c1, "Layer", layers, loaded=loaded, index=len(layers) // 2,
                             key=f"fv_layer::{name}", disabled=kind == "logit")
n_ch = trace.layer_shape[layer][0]
if kind == "logit":
    cats = loaded.spec.categories
    index = c3.number_input("Class", 0, len(cats) - 1, min(207, len(cats) - 1), key="fv_class")
    c3.caption(cats[int(index)])
else:
    index = c3.number_input("Channel", 0, n_ch - 1, min(10, n_ch - 1), key=f"fv_ch::{name}::{layer}")
size, steps = QUALITY[c4.radio("Quality", list(QUALITY), key="fv_quality",
                               help="Fast: 128 px, 64 steps (a few seconds). Quality: 224 px, 160 "
                               "steps. Both are kept in the disk cache.")]
seed = int(c5.number_input("Seed", 0, 9999, 0, key="fv_seed"))
copies = 1
with st.expander("Advanced: steps, size, diversity"):
    a1, a2, a3 = st.columns(3)
    steps = int(a1.slider("Steps", 16, 512, steps, 16, key=f"fv_steps::{steps}"))
    size = int(a2.select_slider("Image size (px)", [64, 96, 128, 160, 224, 288], size,
                                key=f"fv_size::{size}"))
    if view == VIEWS[0]:
        copies = int(a3.slider("Different images for this unit (diversity)", 1, 4, 1, key="fv_div"))
# Small nets (LeNet-5, 28 px digit models) have a fixed-size classifier: a class logit runs the whole
# network, so it is optimised at the model's own input size, without the size-changing transforms.
fixed = kind == "logit" and loaded.spec.input_size < 64
size = loaded.spec.input_size if fixed else size
settings = Settings(size=size, steps=steps, seed=seed, diversity=1.0 if copies > 1 else 0.0, robust=not fixed)


if view == VIEWS[0]:
    target = Target(kind, layer, (int(index),) * copies)
    vis = runner.run(loaded, target, settings, key="unit")
    if vis is None:
        st.stop()
    left, right = st.columns([1, 1], gap="large")
    with left:
        if copies == 1:
            st.image(figures.enlarge(vis.images[0], 448), width=448,
                     caption=f"{'class ' + cats[int(index)] if kind == 'logit' else layer} · "
                     f"{kind} {int(index)} · objective {vis.values[0]:.2f}")
        else:
            st.image(figures.atlas_image(vis, tile=224, cols=2), width=460,
                     caption=f"{copies} different images for {kind} {int(index)} (diversity term)")
        took = "from the disk cache" if vis.hits else f"in {vis.seconds:.1f} s"
        st.caption(f"{size}×{size} px · {steps} steps · seed {seed} · {took}")
    with right:
        charts.show(figures.history_figure(vis), width="stretch")
        st.markdown(
            "**How it is made.** Start from faint noise and repeat: show the picture to the network, "
            "measure how strongly the chosen unit fires, and nudge every pixel in the direction "
            "that makes it fire more (*gradient ascent* on the image; the network's weights never "
            "change). The picture is stored as a Fourier spectrum with decorrelated colours, and "
            "every step sees it slightly padded, shifted, scaled and rotated, so only patterns that "
            "the unit robustly prefers survive. Early layers give edges and colours, deeper "
            "layers textures, parts and whole objects.")
elif view == VIEWS[1]:
    b1, b2, _ = st.columns([2, 1, 3])
    count = b1.select_slider("Channels in the atlas", [8, 16, 32, 64], 16, key="fv_atlas_n")
    first = b2.number_input("First channel", 0, n_ch - 1, 0, key=f"fv_atlas_first::{name}::{layer}")
    chans = tuple(range(int(first), min(n_ch, int(first) + count)))
    vis = runner.run(loaded, Target("channel", layer, chans), settings, key="atlas")
    if vis is None:
        st.stop()
    st.image(figures.atlas_image(vis, tile=min(size, 128), cols=8),
             caption=f"Layer atlas of {layer}: channels {chans[0]}–{chans[-1]} "
             f"({'from the disk cache' if vis.hits == len(chans) else f'{vis.seconds:.1f} s'})")
    st.caption("Each tile is optimised for one channel; 8 channels share one batched optimisation. "
               "A flat grey tile is a channel that never fired, so the gradient had nothing to follow. "
               "Precompute whole layers on the server with "
               f"`{runner.atlas_command(loaded, Target('channel', layer, chans), settings)}`.")
else:
    sets = {s.key: s for s in tasks.folder_sets(loaded, layer)}

    def source_label(key: str) -> str:
        """Label of a "Photos" choice."""
        if key not in sets:
            return "Samples + your uploads"
        return f"folder '{sets[key].name}' · {sets[key].n_images} images (indexed by the CLI)"

    p1, p2 = st.columns([2, 3], gap="large")
    source = p1.selectbox("Photos", [SAMPLES, *sets], format_func=source_label,
                          key=f"fv_photos_from::{name}::{layer}",
                          help="Folders of photos are indexed once on the server with `cnn-lens "
                          "exemplars`; every channel of the layer is ranked in that one pass.")
    ex, problem = None, ""
    try:
        if source == SAMPLES:
            pixels, skipped = photos.chosen(p2, loaded)  # decoded once, outside the model lock
            for msg in skipped:
                st.warning(msg)
            ex = resources.compute(tasks.exemplar_set, loaded, None, pixels=pixels,
                                   layer=layer, channel=int(index), k=6)
        else:
            chosen = sets[source]
            p2.caption(f"Indexed {time.strftime('%Y-%m-%d %H:%M', time.localtime(chosen.created))} "
                       f"from `{chosen.folder}`. Run the same command again to refresh it.")
            ex = resources.compute(tasks.folder_exemplars, loaded, None, key=chosen.key,
                                   created=chosen.created, channel=int(index), k=6)
    except (ValueError, OSError) as exc:
        problem = str(exc)
    if not sets:
        others = sorted({s.layer for s in tasks.folder_sets(loaded)})
        st.caption("To rank a whole folder of photos for this layer, index it once on the server, "
                   f"then reload this page:  \n`cnn-lens exemplars --model {name} --layer {layer} "
                   f"--folder PATH{'' if loaded.trained else ' --untrained'}`"
                   + (f"  \nFolder sets of this model exist for: {', '.join(f'`{o}`' for o in others)}."
                      if others else ""))
    left, right = st.columns([1, 3], gap="large")
    with left:
        vis = runner.run(loaded, Target("channel", layer, (int(index),)), settings, key="exemplar")
        if vis is not None:
            st.image(figures.enlarge(vis.images[0], 224), caption=f"synthetic: channel {int(index)}")
    with right:
        if ex is None:
            st.error(f"Cannot rank these photos: {problem}")
            st.stop()
        cols = st.columns(3)
        for i, e in enumerate(ex.top):
            label = f" · {figures.file_label(ex.names[i])}  \n" if ex.names else " · "
            with cols[i % 3]:
                st.image(figures.with_box(e, size=200), width=200,
                         caption=f"#{i + 1}{label}max {e.value:.2f} · mean {e.mean:.2f}")
                st.image(figures.patch_image(e, size=120), caption=f"RF patch {e.patch.shape[1]}"
                         f"×{e.patch.shape[0]} px")
    where = f" of folder '{figures.file_label(sets[source].name, 60)}'" if source in sets else ""
    st.caption(f"{ex.n_images} photos{where} ranked by the strongest response of channel "
               f"{int(index)} anywhere in its {ex.map_size[0]}×{ex.map_size[1]} map. The yellow box "
               f"is the receptive field ({ex.rf.size} px, stride {ex.rf.jump} px) of the winning "
               "unit: the only pixels it can see.")
