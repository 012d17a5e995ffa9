"""The compute gate bounds concurrency, serves in order, and always releases."""

from __future__ import annotations

import threading
import time

import pytest

from vizcore.core.gate import Gate, GateTimeout


def test_at_most_slots_run_at_once() -> None:
    gate, lock = Gate(2), threading.Lock()
    running, peak = [0], [0]

    def work() -> None:
        with gate.hold():
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            time.sleep(0.02)
            with lock:
                running[0] -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2 and gate.running == 0 and gate.waiting == 0


def test_released_after_exception_and_timeout_reports_busy() -> None:
    gate = Gate(1)
    with pytest.raises(ValueError), gate.hold():
        raise ValueError("inside")
    assert gate.running == 0
    positions: list[int] = []
    with gate.hold(), pytest.raises(GateTimeout, match="busy"), gate.hold(
        timeout=0.2, on_wait=positions.append, poll=0.05
    ):
        pass
    assert positions and positions[0] == 1
    assert gate.running == 0 and gate.waiting == 0
    with gate.hold(timeout=0.1):
        pass


def test_rejects_zero_slots() -> None:
    with pytest.raises(ValueError):
        Gate(0)
