"""Predict: what does the CNN see in this photo? Top-5 classes and the exact preprocessed input."""

from __future__ import annotations

import streamlit as st

from app.predict import figures, tasks
from app.shell import charts, resources
from app.shell import sidebar as widgets

st.title("🔍 CNN Lens — what does the network see?")
loaded = resources.current_model()
image = widgets.current_image()
resources.untrained_banner(loaded)
inp = resources.model_input(loaded, image)  # tensor + the crop the model sees, made once

with st.spinner("Classifying…"):
    pred = resources.compute(tasks.prediction, loaded, inp, k=5)

left, right = st.columns([3, 2], gap="large")
with left:
    imagenet = len(loaded.spec.categories) == 1000  # LeNet-5 and your own models have their own classes
    charts.show(figures.top_k_bar(pred, untrained=not loaded.trained,
                                  dataset="ImageNet" if imagenet else ""), width="stretch")
    st.markdown(
        f"**{loaded.label}** says **{pred.labels[0]}** with "
        f"**{100 * pred.probs[0]:.1f}%** · inference {1000 * pred.seconds:.0f} ms on "
        f"`{loaded.device.type}`"
    )
with right:
    spec = loaded.spec
    st.image(inp.crop, caption="Exactly what the model gets", width=260)
    with st.expander("How the photo becomes numbers", expanded=False):
        st.markdown(
            f"1. **Resize** the shorter side to {spec.resize_size} px ({spec.interpolation} "
            "interpolation, as the weights were trained).\n"
            f"2. **Centre-crop** {spec.input_size}×{spec.input_size} px (the picture above).\n"
            f"3. **Scale** pixel values from 0–255 to 0–1.\n"
            f"4. **Normalise** each {'colour ' if spec.channels == 3 else ''}channel: subtract the "
            f"{'ImageNet' if imagenet else 'training'} mean "
            f"{spec.mean} and divide by the standard deviation {spec.std}.\n\n"
            "The network was trained on inputs prepared exactly this way; anything else shifts "
            "what it sees."
        )
st.caption("**Top-1 / top-5**: accuracy counts a photo as right when the true class is "
           "the first guess (top-1) or among the first five (top-5). The probabilities come from a "
           f"softmax over {len(loaded.spec.categories)} class scores (logits).")
