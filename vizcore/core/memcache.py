"""An in-memory result cache bounded by *bytes* (not by entry count), shared by every session.

Values are stored pickled: the size of an entry is exactly what it holds, and each hit returns a
fresh copy (a caller can never change what another session gets). Least-recently-used entries are
evicted once the total passes ``max_bytes``; an entry bigger than ``max_entry_bytes`` is not stored;
entries older than ``ttl`` seconds are misses. Thread-safe.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
from collections import OrderedDict
from typing import Any

MISS = object()  # sentinel: ``get`` found nothing


def key_of(*parts: Any) -> str:
    """A stable hex key of picklable ``parts`` (tuples, strings, numbers, bytes, arrays, dataclasses)."""
    return hashlib.sha256(pickle.dumps(parts, protocol=5)).hexdigest()


class ResultCache:
    """LRU of pickled values, at most ``max_bytes`` in total."""

    def __init__(self, max_bytes: int, *, ttl: float = 3600.0, max_entry_bytes: int | None = None) -> None:
        if max_bytes < 1:
            raise ValueError("a result cache needs a positive byte budget")
        self.max_bytes = max_bytes
        self.max_entry_bytes = min(max_bytes, max_entry_bytes or max_bytes)
        self.ttl = ttl
        self._lock = threading.Lock()
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        """Bytes held now."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str) -> Any:
        """A copy of the value stored under ``key``, or ``MISS``."""
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return MISS
            stored, blob = item
            if time.monotonic() - stored > self.ttl:
                self._drop(key)
                return MISS
            self._items.move_to_end(key)
        return pickle.loads(blob)

    def put(self, key: str, value: Any) -> bool:
        """Store ``value``; returns whether it was kept (False when bigger than one entry may be)."""
        blob = pickle.dumps(value, protocol=5)
        if len(blob) > self.max_entry_bytes:
            return False
        with self._lock:
            if key in self._items:
                self._drop(key)
            self._items[key] = (time.monotonic(), blob)
            self._bytes += len(blob)
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._items)))
        return True

    def clear(self) -> None:
        """Forget everything."""
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _drop(self, key: str) -> None:
        _, blob = self._items.pop(key)
        self._bytes -= len(blob)
