"""Run / Cancel for feature visualisations on a shared server.

Nothing is optimised until the user presses **Run** (a disk-cache hit is shown at once). A job
bigger than ``tasks.WORK_BUDGET`` is not offered: the page names the ``cnn-lens atlas`` command that
precomputes it on the server instead. While a job runs, the model is taken one optimisation step at
a time (``resources.model_turn``), so other sessions' requests run between steps, and a **Cancel**
button stops it (finished batches of 8 channels stay in the disk cache).
"""

from __future__ import annotations

import streamlit as st

from app.featvis import figures, tasks
from app.shell import resources
from models.registry import LoadedModel
from vizcore.featvis import Settings, Target
from vizcore.featvis.cached import Visuals

CANCELLED_KEY = "fv_cancelled"


def _cancel() -> None:
    st.session_state[CANCELLED_KEY] = True


def atlas_command(loaded: LoadedModel, target: Target, settings: Settings) -> str:
    """The CLI command that precomputes ``target`` (channels) into the shared disk cache."""
    chans = target.indices
    span = f"{min(chans)}-{max(chans)}" if len(chans) > 1 else str(chans[0])
    return (f"cnn-lens atlas --model {loaded.spec.name} --layer {target.layer} --channels {span} "
            f"--steps {settings.steps} --size {settings.size} --seed {settings.seed}"
            + ("" if loaded.trained else " --untrained"))


def _too_big(loaded: LoadedModel, target: Target, settings: Settings, times: float) -> None:
    msg = (f"This job is {times:.1f}× more work than one click may start on this shared server "
           f"({len(target.indices)} image(s) × {settings.steps} steps at {settings.size} px). Use "
           "fewer channels, steps or pixels")
    if target.kind == "channel" and not settings.diversity:
        msg += (", or ask whoever runs the server to precompute it (it then loads instantly for "
                f"everyone):  \n`{atlas_command(loaded, target, settings)}`")
    st.warning(msg + ".", icon="🧮")


def run(loaded: LoadedModel, target: Target, settings: Settings, *, key: str) -> Visuals | None:
    """The visualisations of ``target``: from the disk cache, or computed after Run; ``None`` (with a
    message on the page) when nothing is to be shown yet."""
    vis = tasks.lookup(loaded, target, settings)
    if vis is not None:
        return vis
    times = tasks.over_budget(len(target.indices), settings)
    if times > 1:
        _too_big(loaded, target, settings, times)
        return None
    slot = st.empty()
    go = slot.button("▶ Run", type="primary", key=f"fv_run::{key}",
                     help="Optimise the image(s) for these settings. Nothing is computed until "
                     "you press Run; results are kept in the disk cache for everyone.")
    if not go:
        if st.session_state.pop(CANCELLED_KEY, False):
            st.info("Cancelled. Batches that had finished are kept; press Run to continue.", icon="⏹️")
        else:
            st.info(f"Press **Run** to compute {len(target.indices)} image(s) × {settings.steps} steps "
                    f"at {settings.size} px.", icon="▶️")
        return None
    st.session_state.pop(CANCELLED_KEY, None)
    slot.empty()  # while it runs, Cancel is the only button
    return _optimise(loaded, target, settings, key)


def _optimise(loaded: LoadedModel, target: Target, settings: Settings, key: str) -> Visuals | None:
    problem = tasks.cache_problem()
    if problem:
        st.warning(f"Results will not be kept: {problem}. They are still shown here.", icon="💾")
    cancel = st.empty()
    cancel.button("⏹ Cancel", key=f"fv_cancel::{key}", on_click=_cancel,
                  help="Stop this run (finished batches stay in the disk cache).")
    bar, status, preview = st.progress(0.0, text="Waiting for the model…"), st.empty(), st.empty()

    def show(done: int, total: int, img: object) -> None:
        bar.progress(done / total, text=f"Gradient ascent: step {done} of {total}")
        if img is not None:
            preview.image(figures.atlas_image_from(img, 96), caption="live preview")

    try:
        vis = tasks.optimise(loaded, target, settings, progress=show,
                             guard=lambda: resources.model_turn(loaded, status))
    except ValueError as exc:
        st.error(f"Cannot visualise this: {exc}")
        return None
    finally:
        cancel.empty()
    bar.empty()
    preview.empty()
    if vis.store_error:
        st.warning(f"The results could not be stored in the disk cache ({vis.store_error}); they are "
                   "shown but will be computed again next time.", icon="💾")
    return vis
