"""A compute gate: bounds how many heavy computations run at once and reports queue positions;
``FairLock``: the one-slot, first-come-first-served version used as each shared model's lock.

Plain threading, no streamlit: the app holds one ``Gate`` (sized to the cores) for all sessions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager


class GateTimeout(RuntimeError):
    """The server stayed busy for longer than the caller was willing to wait."""


class Gate:
    """At most ``slots`` holders at once; waiters are served first come, first served."""

    def __init__(self, slots: int) -> None:
        if slots < 1:
            raise ValueError("a gate needs at least one slot")
        self.slots = slots
        self._cond = threading.Condition()
        self._running = 0
        self._queue: list[int] = []
        self._ticket = 0

    @property
    def running(self) -> int:
        """Computations holding a slot now."""
        return self._running

    @property
    def waiting(self) -> int:
        """Computations queued for a slot now."""
        return len(self._queue)

    def acquire(
        self, *, timeout: float = 600.0, on_wait: Callable[[int], None] | None = None,
        poll: float = 0.5,
    ) -> None:
        """Take a slot (see ``hold``); the caller must ``release()`` it."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._ticket += 1
            ticket = self._ticket
            self._queue.append(ticket)
        reported, reported_at = 0, 0.0
        try:
            while True:
                with self._cond:
                    if self._running < self.slots and self._queue[0] == ticket:
                        self._queue.remove(ticket)
                        self._running += 1
                        self._cond.notify_all()
                        return
                    now = time.monotonic()
                    remaining = deadline - now
                    if remaining <= 0:
                        raise GateTimeout(
                            f"The server is busy ({self._running} computations running, "
                            f"{len(self._queue)} queued). Please try again in a moment."
                        )
                    position = self._queue.index(ticket) + 1
                    due = on_wait is not None and (position != reported or now - reported_at >= poll)
                    if not due:
                        self._cond.wait(min(poll, remaining))
                        continue
                on_wait(position)  # type: ignore[misc]  # outside the lock: may be slow or raise
                reported, reported_at = position, time.monotonic()
        except BaseException:
            with self._cond:
                if ticket in self._queue:
                    self._queue.remove(ticket)
                self._cond.notify_all()
            raise

    def release(self) -> None:
        """Give a slot back (wakes the next waiter in line)."""
        with self._cond:
            if self._running <= 0:
                raise RuntimeError("release of a gate slot that is not held")
            self._running -= 1
            self._cond.notify_all()

    @contextmanager
    def hold(
        self, *, timeout: float = 600.0, on_wait: Callable[[int], None] | None = None,
        poll: float = 0.5,
    ) -> Iterator[None]:
        """Take a slot for the duration of the block.

        ``on_wait(position)`` is called while queued (position 1 = next) whenever the position
        changes and at least every ``poll`` seconds, *outside* the gate's lock, so it may do slow
        things or raise (e.g. Streamlit stopping a disconnected session's script): the waiter then
        leaves the queue. Raises ``GateTimeout`` after ``timeout`` seconds in the queue. The slot is
        released on exit, also when the block raises.
        """
        Gate.acquire(self, timeout=timeout, on_wait=on_wait, poll=poll)  # raises, also for FairLock
        try:
            yield
        finally:
            self.release()


class FairLock(Gate):
    """A first-come-first-served mutex (a one-slot ``Gate``) usable like ``threading.Lock``.

    A thread that releases and at once re-acquires queues *behind* the threads already waiting, so a
    long job that takes the lock once per optimisation step lets other sessions' requests in between
    steps (``threading.Lock`` gives no such guarantee: the releasing thread usually wins again).
    """

    def __init__(self) -> None:
        super().__init__(1)

    def acquire(  # type: ignore[override]
        self, blocking: bool = True, timeout: float = -1, *,
        on_wait: Callable[[int], None] | None = None, poll: float = 0.5,
    ) -> bool:
        """``threading.Lock.acquire`` semantics (``timeout=-1`` waits forever); ``on_wait`` as in
        ``Gate.hold``. Returns whether the lock was taken."""
        if not blocking:
            with self._cond:
                if self._running or self._queue:
                    return False
                self._running = 1
                return True
        try:
            super().acquire(timeout=timeout if timeout >= 0 else float("inf"), on_wait=on_wait,
                            poll=poll)
        except GateTimeout:
            return False
        return True

    def locked(self) -> bool:
        """Whether someone holds the lock."""
        return self._running > 0

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *_exc: object) -> None:
        self.release()
