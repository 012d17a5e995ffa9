"""The only module with ``st.cache_resource`` / ``st.cache_data``.

* one shared, frozen model per (name, trained) — ``current_model()``;
* one compute gate for the whole server, one slot per core (``$CNN_LENS_COMPUTE_SLOTS``) — ``gate()``;
* ``compute(fn, loaded, image, **params)``: runs ``fn(loaded, image, **params)`` holding a gate slot
  and the model's lock, cached by content (model, weights, image hash, every parameter) in a result
  cache bounded by bytes (``CNN_LENS_RESULT_CACHE_MB``, default 512);
* ``model_turn(loaded)``: a context for one short step of a long job (gate slot + model lock, both
  first come first served), so long jobs interleave with everyone else's requests.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import streamlit as st

from app.shell.errors import escape_md
from models.registry import LoadedModel, WeightsUnavailable, default_model_name, get_spec, load_model
from vizcore.core.gate import FairLock, Gate, GateTimeout
from vizcore.core.images import LoadedImage
from vizcore.core.memcache import MISS, ResultCache, key_of
from vizcore.core.preprocess import ModelInput, recipe_key
from vizcore.core.preprocess import model_input as _make_input

R = TypeVar("R")
MODEL_KEY = "model_name"
CACHE_TTL_S = 3600
QUEUE_TIMEOUT_S = 300.0  # longest wait for a compute slot before "too busy"
LOCK_TIMEOUT_S = 120.0  # longest wait for the model (between another job's steps) before "too busy"
RESULT_CACHE_BYTES = int(os.environ.get("CNN_LENS_RESULT_CACHE_MB", "512")) * 2**20
RESULT_ENTRY_BYTES = 64 * 2**20  # one result bigger than this is recomputed rather than kept


@st.cache_resource(show_spinner=False, max_entries=6)
def _model(name: str, trained: bool) -> LoadedModel:
    return load_model(name, trained=trained)


def warm(name: str) -> LoadedModel:
    """Load ``name``'s pretrained model into this process's shared cache (``cnn-lens serve``)."""
    return _model(name, True)


def shared_model(name: str, *, trained: bool) -> LoadedModel:
    """The shared, frozen model ``name`` with pretrained or random weights, for pages that show
    several models at once; raises ``WeightsUnavailable`` when ``trained`` and the weights can't be had."""
    return _model(name, trained)


@st.cache_resource(show_spinner=False)
def results() -> ResultCache:
    """The server-wide result cache (bounded by bytes; least recently used entries go first)."""
    return ResultCache(RESULT_CACHE_BYTES, ttl=CACHE_TTL_S, max_entry_bytes=RESULT_ENTRY_BYTES)


def compute_slots(environ: Mapping[str, str] = os.environ) -> int:
    """Computations run at once: ``$CNN_LENS_COMPUTE_SLOTS`` (a whole number ≥ 1, e.g. 1 on a small box
    where two big models at once would not fit in memory), else one per core this process may use."""
    raw = environ.get("CNN_LENS_COMPUTE_SLOTS", "").strip()
    if not raw:
        return max(1, min(len(os.sched_getaffinity(0)), os.cpu_count() or 1))
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"CNN_LENS_COMPUTE_SLOTS must be a whole number ≥ 1, not {raw!r}")
    return int(raw)


@st.cache_resource(show_spinner=False)
def gate() -> Gate:
    """The server-wide compute gate (``compute_slots()`` slots)."""
    return Gate(compute_slots())


def untrained_key(name: str) -> str:
    """Session-state key of the "continue with random weights" choice for ``name``."""
    return f"untrained::{name}"


def selected_model_name() -> str:
    """The model picked in the sidebar (the offline default until the user picks another)."""
    return st.session_state.get(MODEL_KEY, default_model_name())


@st.cache_resource(show_spinner="Loading the models registered on the command line…")
def registered_models() -> dict[str, LoadedModel]:
    """Models given to ``cnn-lens run --model NAME=FILE …`` (``$CNN_LENS_USER_MODELS``): loaded once
    per server, shared by every session (spec name → model)."""
    from app.usermodel import registered

    return registered.load_all(registered.from_env())


def user_model(name: str) -> LoadedModel | None:
    """A user model — registered on the command line or uploaded in this session (``app/usermodel``) —
    with its warnings (NaN/Inf weights) shown; None for registry names. While "Your own model…" has
    nothing loaded yet, the page says where to load it and stops."""
    from app.usermodel import store

    if name == store.OWN:
        st.info("**Your own model**: upload its weights in the sidebar (Model → *Your own model…*), "
                "choose the architecture and press **Load model**.", icon="📦")
        st.stop()
    loaded = registered_models().get(name) or store.get(name)
    for warning in getattr(loaded.spec, "warnings", ()) if loaded is not None else ():
        st.warning(warning, icon="⚠️")
    return loaded


def current_model() -> LoadedModel:
    """The shared model the user picked; stops the page with a clear message if it can't be had."""
    name = selected_model_name()
    user = user_model(name)
    if user is not None:
        return user
    spec = get_spec(name)
    if st.session_state.get(untrained_key(name)):
        with st.spinner(f"Building untrained {spec.display_name}…"):
            return _model(name, False)
    try:
        with st.spinner(f"Loading {spec.display_name}…"):
            return _model(name, True)
    except WeightsUnavailable as exc:
        st.error(
            f"**Pretrained weights for {spec.display_name} cannot be used.**  \n"
            f"Why: {escape_md(exc.reason)}.  \n"
            f"File: `{exc.filename}`  \nFolder: `{exc.directory}`  \nSource: {escape_md(exc.url)}"
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


@st.cache_resource(show_spinner=False, max_entries=64, ttl=CACHE_TTL_S)
def _model_input(image_digest: str, recipe: str, _image: LoadedImage, _spec: Any) -> ModelInput:
    return _make_input(_image.image, _spec, digest=image_digest)


def model_input(loaded: LoadedModel, image: LoadedImage) -> ModelInput:
    """``image`` as ``loaded`` sees it — (1, C, S, S) tensor + display crop — made once per image ×
    preprocessing and shared; pass it to ``compute`` in place of the image (never mutate it)."""
    return _model_input(image.digest, recipe_key(loaded.spec), _image=image, _spec=loaded.spec)


def _queued(status: Any, g: Gate) -> Callable[[int], None]:
    """``on_wait`` callback: show the live queue position (also lets Streamlit stop this script)."""
    def show(position: int) -> None:
        running = "1 computation is" if g.running == 1 else f"{g.running} computations are"
        status.info(f"⏳ Queued — position {position}. {running} running on this server; yours "
                    "starts automatically.")
    return show


def _too_busy(status: Any, waited: float) -> None:
    status.error("The server is too busy right now (every compute slot stayed taken for "
                 f"{waited:.0f} s). Please try again in a minute.", icon="⏳")
    st.stop()


def _waiting_for_model(status: Any, loaded: LoadedModel) -> Callable[[int], None]:
    """``on_wait`` callback while another session's step holds the model (live position)."""
    def show(position: int) -> None:
        status.info(f"⏳ Waiting for {loaded.spec.display_name} — position {position}; another "
                    "session is using it (a long job lets others in between its steps).")
    return show


@contextmanager
def _model_held(status: Any, loaded: LoadedModel, timeout: float = LOCK_TIMEOUT_S) -> Iterator[None]:
    shown: list[int] = []
    show = _waiting_for_model(status, loaded)

    def on_wait(position: int) -> None:
        shown.append(position)
        show(position)

    if not loaded.lock.acquire(timeout=timeout, on_wait=on_wait):
        _too_busy(status, timeout)
    if shown:
        status.empty()  # the wait is over: no stale "waiting for the model" message
    try:
        yield
    finally:
        loaded.lock.release()


def compute(fn: Callable[..., R], loaded: LoadedModel, image: LoadedImage | ModelInput | None, /,
            progress: Callable[[float], None] | None = None, *, private: bool = False, **params: Any) -> R:
    """``fn(loaded, image, **params)`` through the gate, cached by content.

    ``fn`` must be a module-level function returning picklable CPU data; ``params`` must be
    picklable values. A cache hit never waits. A miss queues for a gate slot, then for the model's
    lock (both first come first served, each with a timeout), showing "Queued — position N" /
    "Waiting for the model" live; a session stopped or disconnected while queued leaves the queue.
    If no slot or model frees up in time the page shows a clear error and stops. ``progress`` (not
    part of the key) is passed on to ``fn`` on a miss, for a live progress bar.

    ``private`` (long computations, e.g. Score-CAM's thousand masked forwards): the model lock is
    held only to copy the model; ``fn`` then runs on that copy with just the gate slot, so other
    sessions keep using the shared model meanwhile. The copy is dropped when ``fn`` returns.
    """
    key = key_of(f"{fn.__module__}.{fn.__qualname__}", loaded.spec.name, loaded.trained,
                 image.digest if image is not None else "", tuple(sorted(params.items())))
    cache = results()
    hit = cache.get(key)
    if hit is not MISS:
        return hit
    extra = {} if progress is None else {"progress": progress}
    g = gate()
    status = st.empty()
    try:
        with g.hold(timeout=QUEUE_TIMEOUT_S, on_wait=_queued(status, g)):
            with _model_held(status, loaded):
                status.empty()
                hit = cache.get(key)  # computed by another session while this one queued
                if hit is not MISS:
                    return hit
                if private:
                    mine = private_copy(loaded)
                else:
                    value = fn(loaded, image, **params, **extra)
            if private:
                value = fn(mine, image, **params, **extra)
        cache.put(key, value)
        return value
    except GateTimeout:
        _too_busy(status, QUEUE_TIMEOUT_S)
        raise
    finally:
        status.empty()


def private_copy(loaded: LoadedModel) -> LoadedModel:
    """A copy of ``loaded`` with its own weights, lock and memo. Call while holding ``loaded.lock``:
    then no other session's hooks or wrappers are on the model being copied."""
    return dataclasses.replace(loaded, model=copy.deepcopy(loaded.model), lock=FairLock(), memo={})


@contextmanager
def model_turn(loaded: LoadedModel, status: Any, *, timeout: float = QUEUE_TIMEOUT_S) -> Iterator[None]:
    """One short step of a long job: a gate slot and the model lock, released at the end of the step.

    Both queues are first come first served, so between two steps of a long job every request that
    arrived meanwhile runs. ``status`` (an ``st.empty()``) shows the live queue position.
    """
    g = gate()
    waited: list[int] = []
    shown = _queued(status, g)

    def on_wait(position: int) -> None:
        waited.append(position)
        shown(position)

    try:
        with g.hold(timeout=timeout, on_wait=on_wait), _model_held(status, loaded, timeout):
            if waited:
                status.empty()
            yield
    except GateTimeout:
        _too_busy(status, timeout)
        raise


@contextmanager
def compute_slot(status: Any, *, timeout: float = QUEUE_TIMEOUT_S) -> Iterator[None]:
    """One step of a long job on a PRIVATE model (no shared-model lock): a gate slot only, with the
    live queue position in ``status`` (an ``st.empty()``)."""
    g = gate()
    try:
        with g.hold(timeout=timeout, on_wait=_queued(status, g)):
            yield
    except GateTimeout:
        _too_busy(status, timeout)
        raise
