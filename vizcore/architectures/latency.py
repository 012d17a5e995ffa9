"""Measured CPU latency of one image, and the on-disk store for it and for structure counts.

Latency: warm-up forwards first, then the median of ``runs`` timed forwards of a (1, C, S, S)
input under ``torch.inference_mode`` with the current torch thread count. Weights do not change
the arithmetic, so a private untrained build is timed (the shared models are never touched).
Entries live under ``$CNN_LENS_CACHE/architectures`` (``vizcore.core.diskcache``), keyed by model,
input shape, machine, thread count and torch version.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vizcore.architectures.catalog import Structure
from vizcore.core.diskcache import DiskCache, make_key

CODE_VERSION = 1


@dataclass(frozen=True)
class Latency:
    """Timed forwards of one image (milliseconds), and where they were measured."""

    runs_ms: tuple[float, ...]
    threads: int
    machine: str
    load: float | None = None  # 1-minute load average when measured (others' work slows it down)

    @property
    def median_ms(self) -> float:
        """Median of the timed runs."""
        return float(statistics.median(self.runs_ms))


@lru_cache(maxsize=1)
def machine_label() -> str:
    """e.g. "AMD EPYC 7B13 · 2 cores · x86_64 · torch 2.14.1"."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu} · {cores} cores · {platform.machine()} · torch {torch.__version__.split('+')[0]}"


@torch.inference_mode()
def measure_latency(model: nn.Module, input_shape: tuple[int, ...], *, runs: int = 5,
                    warmup: int = 2) -> Latency:
    """Median-of-``runs`` wall time of ``model`` on zeros of ``input_shape`` after ``warmup`` runs."""
    if runs < 1 or warmup < 0:
        raise ValueError(f"need runs ≥ 1 and warmup ≥ 0, got runs={runs}, warmup={warmup}")
    dev = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = torch.zeros(input_shape, device=dev)
    for _ in range(warmup):
        model(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        model(x)
        times.append((time.perf_counter() - start) * 1000.0)
    return Latency(tuple(times), torch.get_num_threads(), machine_label(), _load())


def _load() -> float | None:
    try:
        return float(os.getloadavg()[0])
    except OSError:
        return None


class ArchStore:
    """Structure counts and latencies on disk, shared by every session and restart."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.cache = DiskCache(root, namespace="architectures")

    @staticmethod
    def _key(kind: str, name: str, shape: tuple[int, ...], **extra: object) -> str:
        return make_key(kind=kind, model=name, shape=list(shape), code=CODE_VERSION,
                        torch=torch.__version__, **extra)

    def structure(self, name: str, shape: tuple[int, ...]) -> Structure | None:
        """The stored count for model ``name`` at ``shape`` (None when absent)."""
        got = self.cache.get(self._key("structure", name, shape))
        if got is None or "counts" not in got:
            return None
        params, macs, depth = (int(v) for v in got["counts"])
        return Structure(params, macs, depth, tuple(shape))

    def put_structure(self, name: str, s: Structure) -> None:
        """Store ``s`` for model ``name``."""
        self.cache.put(self._key("structure", name, s.input_shape),
                       {"counts": np.array([s.params, s.macs, s.depth], dtype=np.int64)})

    def latency(self, name: str, shape: tuple[int, ...], threads: int | None = None) -> Latency | None:
        """The stored latency of ``name`` on this machine with ``threads`` (default: current)."""
        threads = threads or torch.get_num_threads()
        got = self.cache.get(self._key("latency", name, shape, threads=threads, machine=machine_label()))
        if got is None or "runs_ms" not in got:
            return None
        load = float(got["load"][0]) if "load" in got and got["load"].size else None
        return Latency(tuple(float(v) for v in got["runs_ms"]), threads, machine_label(),
                       None if load is None or load < 0 else load)

    def put_latency(self, name: str, shape: tuple[int, ...], lat: Latency) -> None:
        """Store ``lat`` for model ``name``."""
        key = self._key("latency", name, shape, threads=lat.threads, machine=lat.machine)
        self.cache.put(key, {"runs_ms": np.array(lat.runs_ms, dtype=np.float64),
                             "load": np.array([-1.0 if lat.load is None else lat.load])})
