"""Faults under load: an exception inside a computation, a session abandoned while queued or mid-run,
a repeated request — the gate and the model lock are released, the next request succeeds, no hooks."""

from __future__ import annotations

import threading
import time
from contextlib import ExitStack

import pytest

from app.explain import tasks as explain
from models.registry import LoadedModel
from tests.apptest_utils import fresh_app, no_exceptions
from tests.conftest import assert_clean
from tests.test_scale import run_like_compute, same
from vizcore.core.gate import Gate, GateTimeout
from vizcore.core.preprocess import to_input
from vizcore.explain import methods as attribution

CAM = dict(method="gradcam", layer="_relu1", target=281, faithful=False)


class Disconnected(Exception):
    """Stands in for Streamlit's StopException, raised at a session's next st.* call after it left."""


def idle(gate: Gate, loaded: LoadedModel) -> None:
    """Nothing holds or waits for the gate, the lock is free and the model is clean."""
    assert gate.running == 0 and gate.waiting == 0
    assert loaded.lock.acquire(blocking=False), "the model lock was left taken"
    loaded.lock.release()
    assert_clean(loaded.model)


def test_exception_inside_a_computation_releases_everything(lite0, chelsea) -> None:
    gate = Gate(1)
    # the target class does not exist: fails after the forward pass with the layer hooked
    with pytest.raises((IndexError, ValueError, RuntimeError)):
        run_like_compute(gate, explain.method_view, lite0, chelsea, **{**CAM, "target": 5000})
    idle(gate, lite0)
    # a bad layer name fails before any hook is placed, with a clear message
    with pytest.raises(ValueError, match="layer"):
        run_like_compute(gate, explain.method_view, lite0, chelsea, **{**CAM, "layer": "nope"})
    idle(gate, lite0)
    same(explain.method_view(lite0, chelsea, **CAM),
         run_like_compute(gate, explain.method_view, lite0, chelsea, **CAM))
    idle(gate, lite0)


def test_session_that_leaves_mid_computation(lite0, coffee) -> None:
    """A slow method's progress callback is an st.* call: it raises once the session has gone."""
    calls = []

    def progress(fraction: float) -> None:
        calls.append(fraction)
        raise Disconnected

    def scorecam(loaded: LoadedModel, image, **kw) -> object:
        x = to_input(image.image, loaded.spec)
        return attribution.explain(loaded.model, x, "scorecam", **kw)

    gate = Gate(2)
    with pytest.raises(Disconnected):
        run_like_compute(gate, scorecam, lite0, coffee, layer="_relu1", target=967, progress=progress,
                         options=attribution.ScoreCamOptions(max_channels=8, batch_size=4))
    assert calls, "the computation never reported progress"
    idle(gate, lite0)
    alone = explain.method_view(lite0, coffee, **CAM)
    same(alone, run_like_compute(gate, explain.method_view, lite0, coffee, **CAM))
    idle(gate, lite0)


def test_session_that_leaves_or_times_out_while_queued(lite0, chelsea) -> None:
    gate = Gate(1)
    holding, release = threading.Event(), threading.Event()
    outcome: dict[str, BaseException] = {}

    def busy() -> None:  # another student's long computation holds the only slot
        with gate.hold(), lite0.lock:
            holding.set()
            release.wait(20)

    def waiter(name: str, on_wait, timeout: float) -> None:
        try:
            run_like_compute_with(gate, on_wait, timeout)
        except BaseException as exc:
            outcome[name] = exc

    def run_like_compute_with(g: Gate, on_wait, timeout: float) -> None:
        with g.hold(timeout=timeout, on_wait=on_wait, poll=0.05), lite0.lock:
            explain.method_view(lite0, chelsea, **CAM)

    def leave(position: int) -> None:  # the session disconnected: Streamlit stops its script
        raise Disconnected

    b = threading.Thread(target=busy)
    b.start()
    assert holding.wait(20)
    left = threading.Thread(target=waiter, args=("left", leave, 30.0))
    patient = threading.Thread(target=waiter, args=("timeout", lambda p: None, 0.3))
    left.start()
    patient.start()
    left.join(10)
    patient.join(10)
    assert isinstance(outcome.get("left"), Disconnected)
    assert isinstance(outcome.get("timeout"), GateTimeout)
    assert gate.waiting == 0 and gate.running == 1  # only the busy one; nobody stuck in the queue
    release.set()
    b.join(20)
    idle(gate, lite0)
    t0 = time.monotonic()
    run_like_compute(gate, explain.method_view, lite0, chelsea, **CAM)
    assert time.monotonic() - t0 < 20
    idle(gate, lite0)


def test_repeated_request_while_the_first_runs(lite0, coffee) -> None:
    """A user who clicks again mid-run: both requests finish with the same answer as alone."""
    alone = explain.method_view(lite0, coffee, **{**CAM, "target": 967})
    gate = Gate(2)
    results: list[object] = []
    errors: list[BaseException] = []

    def click() -> None:
        try:
            results.append(run_like_compute(gate, explain.method_view, lite0, coffee,
                                            **{**CAM, "target": 967}))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=click) for _ in range(3)]
    for i, t in enumerate(threads):
        t.start()
        time.sleep(0.02 * i)
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 3
    for r in results:
        same(alone, r)
    idle(gate, lite0)


def test_page_shows_a_clear_message_when_the_server_stays_busy(monkeypatch) -> None:
    """No traceback: a page whose computation cannot get a slot says so and stops."""
    from app.shell import resources

    at = fresh_app(timeout=120)
    monkeypatch.setattr(resources, "QUEUE_TIMEOUT_S", 0.5)
    g = resources.gate()
    with ExitStack() as stack:
        for _ in range(g.slots):  # every slot taken by other students
            stack.enter_context(g.hold())
        at.run()
    no_exceptions(at)
    assert any("too busy" in e.value for e in at.error), [e.value for e in at.error]
    assert g.running == 0 and g.waiting == 0
    at.run()  # the next request succeeds
    no_exceptions(at)
    assert not at.error


def lock_probe(loaded: LoadedModel, image: object, *, tag: int) -> tuple[bool, bool]:
    """(ran on a copy of the shared model?, was the shared model's lock free while it ran?)"""
    from app.shell import resources

    shared = resources.shared_model(loaded.spec.name, trained=loaded.trained)
    free = shared.lock.acquire(blocking=False)
    if free:
        shared.lock.release()
    return loaded.model is not shared.model, free


def _private_page() -> None:
    import streamlit as st

    from app.shell import resources
    from tests.test_faults import lock_probe

    loaded = resources.current_model()
    for private in (True, False):
        copy, free = resources.compute(lock_probe, loaded, None, private=private, tag=int(private))
        st.write(f"private={private} copy={copy} lock_free={free}")
    g = resources.gate()
    st.write(f"after: running={g.running} lock_free={not loaded.lock.locked()}")


def test_private_computation_leaves_the_shared_model_free() -> None:
    """A long computation (Score-CAM, Occlusion) runs on a copy: other sessions keep the model."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_private_page, default_timeout=120).run()
    no_exceptions(at)
    assert [m.value for m in at.markdown] == ["private=True copy=True lock_free=True",
                                              "private=False copy=False lock_free=False",
                                              "after: running=0 lock_free=True"]


def test_compute_slots_follow_the_cores_unless_set() -> None:
    import os

    from app.shell.resources import compute_slots

    cores = min(len(os.sched_getaffinity(0)), os.cpu_count() or 1)
    assert compute_slots({}) == compute_slots({"CNN_LENS_COMPUTE_SLOTS": " "}) == max(1, cores)
    assert compute_slots({"CNN_LENS_COMPUTE_SLOTS": "1"}) == 1
    assert compute_slots({"CNN_LENS_COMPUTE_SLOTS": "6"}) == 6
    for bad in ("0", "-2", "two", "1.5"):
        with pytest.raises(ValueError, match="CNN_LENS_COMPUTE_SLOTS must be a whole number"):
            compute_slots({"CNN_LENS_COMPUTE_SLOTS": bad})
