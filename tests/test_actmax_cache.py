"""The on-disk cache and cached visualisations: atomic, keyed, identical on hits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.test_actmax import MEAN, STD, tiny
from vizcore.core import diskcache
from vizcore.core.diskcache import DiskCache, make_key
from vizcore.featvis import Settings, Target
from vizcore.featvis import cached as cached_mod
from vizcore.featvis.cached import Model, parse_channels, shard, visualise

S = Settings(size=32, steps=10, seed=0)


def test_roundtrip_atomic_and_corrupt_is_a_miss(tmp_path: Path) -> None:
    c = DiskCache(tmp_path)
    k = make_key(model="m", layer="l", channel=3)
    assert c.get(k) is None and k not in c
    arr = {"images": np.arange(12, dtype=np.uint8).reshape(1, 2, 2, 3), "values": np.ones(1)}
    c.put(k, arr)
    got = c.get(k)
    np.testing.assert_array_equal(got["images"], arr["images"])
    assert not list(tmp_path.rglob(".tmp-*"))  # no temporary file left behind
    c.path(k).write_bytes(b"garbage")
    assert c.get(k) is None
    assert make_key(a=1, b=2) == make_key(b=2, a=1) != make_key(a=1, b=3)


def test_env_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CNN_LENS_CACHE", str(tmp_path / "x"))
    assert diskcache.default_root() == tmp_path / "x"
    monkeypatch.delenv("CNN_LENS_CACHE")
    assert diskcache.default_root() == Path.home() / ".cache" / "cnn-lens"


def test_hits_are_identical_and_skip_compute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = Model(tiny(), "tiny", True, MEAN, STD)
    cache = DiskCache(tmp_path)
    first = visualise(m, Target("channel", "2", (0, 1, 2)), settings=S, cache=cache, batch=2)
    assert first.hits == 0 and first.images.shape == (3, 32, 32, 3)
    assert first.history.shape == (3, S.steps)

    def boom(*_a, **_k):
        raise AssertionError("recomputed a cached channel")

    monkeypatch.setattr(cached_mod, "render", boom)
    again = visualise(m, Target("channel", "2", (2, 0)), settings=S, cache=cache)
    assert again.hits == 2
    np.testing.assert_array_equal(again.images[0], first.images[2])
    np.testing.assert_array_equal(again.images[1], first.images[0])
    with pytest.raises(AssertionError):  # other settings / seed / weights = other keys
        visualise(m, Target("channel", "2", (0,)), settings=Settings(size=32, steps=10, seed=1),
                  cache=cache)
    with pytest.raises(AssertionError):
        visualise(Model(m.net, "tiny", False, MEAN, STD), Target("channel", "2", (0,)), settings=S,
                  cache=cache)
    # the page's lock-free lookup never computes: a truncated entry is a miss, not a render
    entry = cache.path(cached_mod.entry_key(m, Target("channel", "2", (0,)), 0, S))
    entry.write_bytes(entry.read_bytes()[:40])
    assert visualise(m, Target("channel", "2", (0, 2)), settings=S, cache=cache, compute=False) is None
    assert visualise(m, Target("channel", "2", (2,)), settings=S, cache=cache, compute=False) is not None


def test_progress_counts_all_batches(tmp_path: Path) -> None:
    seen = []
    visualise(Model(tiny(), "tiny", True, MEAN, STD), Target("channel", "2", (0, 1, 2)), settings=S,
              cache=DiskCache(tmp_path), batch=2, progress=lambda d, t, _p: seen.append((d, t)))
    assert seen[-1] == (2 * S.steps, 2 * S.steps)
    assert [d for d, _ in seen] == list(range(1, 2 * S.steps + 1))


def test_channel_ranges_and_shards() -> None:
    assert parse_channels("0-3") == [0, 1, 2, 3]
    assert parse_channels("5, 1-2,5") == [1, 2, 5]
    for bad in ("", "a", "3-1", "-2"):
        with pytest.raises(ValueError):
            parse_channels(bad)
    items = list(range(10))
    parts = [shard(items, f"{i}/3") for i in (1, 2, 3)]
    assert sorted(i for p in parts for i in p) == items and parts[0] == [0, 3, 6, 9]
    for bad in ("0/3", "4/3", "x"):
        with pytest.raises(ValueError):
            shard(items, bad)
