"""The only module with ``st.cache_resource`` / ``st.cache_data``.

* one shared, frozen model per (name, trained) — ``current_model()``;
* one compute gate for the whole server, sized to the cores — ``gate()``;
* ``compute(fn, loaded, image, **params)``: runs ``fn(loaded, image, **params)`` holding a gate slot
  and the model's lock, cached by content (model, weights, image hash, every parameter).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from models.registry import LoadedModel, WeightsUnavailable, default_model_name, get_spec, load_model
from vizcore.core.gate import Gate, GateTimeout
from vizcore.core.images import LoadedImage

R = TypeVar("R")
MODEL_KEY = "model_name"
CACHE_TTL_S = 3600
QUEUE_TIMEOUT_S = 300.0  # longest wait for a compute slot before "too busy"


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


class _NotCached(Exception):
    """Raised by ``_cached`` on a cache miss when the caller does not hold a gate slot yet."""


@st.cache_data(max_entries=256, ttl=CACHE_TTL_S, show_spinner=False)
def _cached(
    fn_key: str, model_name: str, trained: bool, image_digest: str, params: tuple[tuple[str, Any], ...],
    _fn: Callable[..., Any], _image: LoadedImage | None, _holding_slot: bool,
) -> Any:
    # Exceptions are not cached: a miss without a slot comes back to ``compute``, which queues for
    # a slot (showing the live position) and calls again with ``_holding_slot=True``.
    if not _holding_slot:
        raise _NotCached
    loaded = _model(model_name, trained)
    with loaded.lock:
        return _fn(loaded, _image, **dict(params))


def _queued(status: Any, g: Gate) -> Callable[[int], None]:
    """``on_wait`` callback: show the live queue position (also lets Streamlit stop this script)."""
    def show(position: int) -> None:
        status.info(f"⏳ Queued — position {position}. {g.running} computations are running on "
                    "this server; yours starts automatically.")
    return show


def _too_busy(status: Any, waited: float) -> None:
    status.error("The server is too busy right now (every compute slot stayed taken for "
                 f"{waited:.0f} s). Please try again in a minute.", icon="⏳")
    st.stop()


def compute(fn: Callable[..., R], loaded: LoadedModel, image: LoadedImage | None, /,
            **params: Any) -> R:
    """``fn(loaded, image, **params)`` through the gate, cached by content.

    ``fn`` must be a module-level function returning picklable CPU data; ``params`` must be
    hashable values. A cache hit never waits for the gate. A miss queues for a gate slot first,
    showing "Queued — position N" (updated live) while the gate is full; a session that is
    stopped or disconnected while queued leaves the queue. If no slot frees up within
    ``QUEUE_TIMEOUT_S`` the page shows a clear error and stops.
    """
    key = f"{fn.__module__}.{fn.__qualname__}"
    args = (key, loaded.spec.name, loaded.trained, image.digest if image is not None else "",
            tuple(sorted(params.items())))
    try:
        return _cached(*args, _fn=fn, _image=image, _holding_slot=False)
    except _NotCached:
        pass
    g = gate()
    status = st.empty()
    try:
        with g.hold(timeout=QUEUE_TIMEOUT_S, on_wait=_queued(status, g)):
            status.empty()
            return _cached(*args, _fn=fn, _image=image, _holding_slot=True)
    except GateTimeout:
        _too_busy(status, QUEUE_TIMEOUT_S)
        raise
    finally:
        status.empty()


@contextmanager
def exclusive(loaded: LoadedModel, *, timeout: float = 180.0) -> Iterator[None]:
    """Hold a gate slot and ``loaded.lock`` for an uncached computation that draws its own progress.

    Use it for long runs that update an ``st.progress`` / preview (which cannot happen inside
    ``st.cache_data``). Shows "queued — position N" (live) while waiting; releases on exit, also
    on error.
    """
    g = gate()
    status = st.empty()
    try:
        with g.hold(timeout=timeout, on_wait=_queued(status, g)), loaded.lock:
            status.empty()
            yield
    except GateTimeout:
        _too_busy(status, timeout)
        raise
    finally:
        status.empty()
