"""The only module with ``st.cache_resource`` / ``st.cache_data``.

* one shared, frozen model per (name, trained) — ``current_model()``;
* one compute gate for the whole server, sized to the cores — ``gate()``;
* ``compute(fn, loaded, image, **params)``: runs ``fn(loaded, image, **params)`` holding a gate slot
  and the model's lock, cached by content (model, weights, image hash, every parameter).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from models.registry import LoadedModel, WeightsUnavailable, default_model_name, get_spec, load_model
from vizcore.gate import Gate, GateTimeout
from vizcore.images import LoadedImage

R = TypeVar("R")
MODEL_KEY = "model_name"
CACHE_TTL_S = 3600
RETRIES = 6


@st.cache_resource(show_spinner=False, max_entries=6)
def _model(name: str, trained: bool) -> LoadedModel:
    return load_model(name, trained=trained)


@st.cache_resource(show_spinner=False)
def gate() -> Gate:
    """The server-wide compute gate (one slot per core, at least one)."""
    return Gate(max(1, min(len(os.sched_getaffinity(0)), os.cpu_count() or 1)))


def untrained_key(name: str) -> str:
    """Session-state key of the "continue with random weights" choice for ``name``."""
    return f"untrained::{name}"


def selected_model_name() -> str:
    """The model picked in the sidebar (the offline default until the user picks another)."""
    return st.session_state.get(MODEL_KEY, default_model_name())


def current_model() -> LoadedModel:
    """The shared model the user picked; stops the page with a clear message if it can't be had."""
    name = selected_model_name()
    spec = get_spec(name)
    if st.session_state.get(untrained_key(name)):
        with st.spinner(f"Building untrained {spec.display_name}…"):
            return _model(name, False)
    try:
        with st.spinner(f"Loading {spec.display_name}…"):
            return _model(name, True)
    except WeightsUnavailable as exc:
        st.error(
            f"**Pretrained weights for {spec.display_name} are not on this machine** and could not "
            f"be downloaded.\n\nMissing file: `{exc.filename}`  \nPut it in: `{exc.directory}`  \n"
            f"Source: {exc.url}"
        )
        st.caption("Untrained weights are useful for studying the architecture and as a sanity check "
                   "(explanations of an untrained model should look like noise).")
        if st.button("Continue with untrained (random) weights", type="primary",
                     key=f"go-untrained-{name}"):
            st.session_state[untrained_key(name)] = True
            st.rerun()
        st.stop()
    raise AssertionError("unreachable")


def untrained_banner(loaded: LoadedModel) -> None:
    """A warning shown on every page while the model has random weights."""
    if not loaded.trained:
        st.warning(f"**{loaded.spec.display_name} is UNTRAINED** — random weights; predictions and "
                   "explanations are meaningless except as a baseline.", icon="⚠️")


@st.cache_data(max_entries=256, ttl=CACHE_TTL_S, show_spinner=False)
def _cached(
    fn_key: str, model_name: str, trained: bool, image_digest: str, params: tuple[tuple[str, Any], ...],
    _fn: Callable[..., Any], _image: LoadedImage | None, _timeout: float,
) -> Any:
    loaded = _model(model_name, trained)
    with gate().hold(timeout=_timeout), loaded.lock:
        return _fn(loaded, _image, **dict(params))


def compute(fn: Callable[..., R], loaded: LoadedModel, image: LoadedImage | None, /,
            **params: Any) -> R:
    """``fn(loaded, image, **params)`` through the gate, cached by content.

    ``fn`` must be a module-level function returning picklable CPU data; ``params`` must be
    hashable values. Shows "queued — position N" while the gate is full and retries when the server
    stays busy; raises ``GateTimeout`` only after several retries.
    """
    g = gate()
    status = st.empty()
    key = f"{fn.__module__}.{fn.__qualname__}"
    digest = image.digest if image is not None else ""
    items = tuple(sorted(params.items()))
    try:
        for attempt in range(RETRIES):
            if g.running >= g.slots:
                status.info(f"⏳ Queued — position {g.waiting + 1}. "
                            f"{g.running} computations are running on this server.")
            try:
                return _cached(key, loaded.spec.name, loaded.trained, digest, items,
                               _fn=fn, _image=image, _timeout=30.0)
            except GateTimeout:
                status.warning(f"Busy, retrying… (attempt {attempt + 2} of {RETRIES})")
                time.sleep(0.2)
        raise GateTimeout("The server is too busy right now. Please try again in a minute.")
    finally:
        status.empty()


@contextmanager
def exclusive(loaded: LoadedModel, *, timeout: float = 180.0) -> Iterator[None]:
    """Hold a gate slot and ``loaded.lock`` for an uncached computation that draws its own progress.

    Use it for long runs that update an ``st.progress`` / preview (which cannot happen inside
    ``st.cache_data``). Shows "queued — position N" while waiting; releases on exit, also on error.
    """
    g = gate()
    status = st.empty()
    if g.running >= g.slots:
        status.info(f"⏳ Queued — position {g.waiting + 1}. "
                    f"{g.running} computations are running on this server.")
    try:
        with g.hold(timeout=timeout), loaded.lock:
            status.empty()
            yield
    finally:
        status.empty()
