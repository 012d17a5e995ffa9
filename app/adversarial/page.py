"""Adversarial examples lab: fool the network with an invisible change, watch the explanation move,
try the defences — and attack through them."""

from __future__ import annotations

from dataclasses import asdict

import streamlit as st

from app.adversarial import figures, sections, tasks, texts
from app.shell import charts, resources
from app.shell import sidebar as widgets
from vizcore.adversarial import METHODS

EPS_OPTIONS = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
STEP_OPTIONS = ("auto", 0.25, 0.5, 1.0, 2.0, 4.0)

st.title("🎭 Adversarial examples — an invisible change that fools the network")
loaded = resources.current_model()
image = widgets.current_image()
resources.untrained_banner(loaded)
spec, names = loaded.spec, loaded.spec.categories
st.caption(texts.INTRO)


def attack_form() -> tasks.AttackSettings:
    """The attack settings (a form: nothing recomputes until **Run attack** is pressed)."""
    with st.form("adv-form", border=True):
        method = st.radio("Attack", list(METHODS), index=list(METHODS).index("pgd"), format_func=METHODS.get,
                          horizontal=True, key="adv-method")
        c2, c3, c4 = st.columns([2, 1.4, 1.6], vertical_alignment="bottom")
        eps = c2.select_slider("Budget ε (8-bit levels)", EPS_OPTIONS, value=2.0, key="adv-eps",
                               format_func=lambda v: f"{v:g}/255",
                               help="No colour value may change by more than ε levels out of 255.")
        steps = c3.slider("Steps", 1, 40, 10, key="adv-steps",
                          help="FGSM always takes exactly one step of ε.")
        step = c4.select_slider("Step size", STEP_OPTIONS, value="auto", key="adv-step",
                                format_func=lambda v: "auto" if v == "auto" else f"{v:g}/255",
                                help="auto = 2.5·ε/steps (Madry et al.). Ignored by FGSM.")
        d1, d2, d3 = st.columns([4, 1.2, 1.4], vertical_alignment="bottom")
        target = d1.selectbox("Target class — “make it say ___” (targeted PGD only)", range(len(names)),
                              index=min(tasks.TOASTER, len(names) - 1), key="adv-target",
                              format_func=lambda i: f"{names[i]} ({i})",
                              help="Type to search the classes.")
        seed = d2.number_input("Random start seed", 0, 9999, 0, key="adv-seed")
        d3.form_submit_button("Run attack", type="primary", width="stretch")
    return tasks.AttackSettings(method, float(eps), int(steps), None if step == "auto" else float(step),
                                int(target), int(seed))


settings = attack_form()
with st.spinner(f"{METHODS[settings.method]}: attacking, then Grad-CAM before and after…"):
    try:
        view = resources.compute(tasks.run, loaded, image, **asdict(settings))
    except ValueError as exc:
        st.error(f"Cannot run this attack: {exc}")
        st.stop()
r = view.result
sections.pictures(view, names, settings.eps_levels)
charts.show(figures.top5_figure(r.clean_probs, r.probs, names, highlight=(r.source, view.new_class)),
            width="stretch", key="adv-top5")
sections.metrics(view)
st.markdown(texts.explanation(r, view.distortion, names))
sections.gradcams(view, names)
sections.download(view, names, settings)
sections.sweep(loaded, image, settings, names)
sections.transfer(loaded, image, view, names)
sections.defences(loaded, image, view, settings, names)
