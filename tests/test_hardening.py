"""Shared-server hardening (issue 13): result cache bounded by bytes, a fair model lock that lets
other requests in between a long job's steps, errors shown with an id (no traceback), markdown
escaped, per-session upload budget, an unwritable disk cache."""

from __future__ import annotations

import logging
import re
import threading
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from app.shell.errors import escape_md
from tests.conftest import assert_clean
from vizcore.core.diskcache import DiskCache
from vizcore.core.gate import FairLock
from vizcore.core.memcache import MISS, ResultCache, key_of
from vizcore.featvis import Settings, Target
from vizcore.featvis.cached import Model, visualise


def test_result_cache_is_bounded_by_bytes_not_entries() -> None:
    cache = ResultCache(3_000_000, max_entry_bytes=1_500_000)
    big = [np.full(250_000, i, np.float32) for i in range(5)]  # ~1 MB each pickled
    for i, arr in enumerate(big):
        assert cache.put(key_of("k", i), arr)
    assert cache.nbytes <= 3_000_000 and len(cache) == 2  # the oldest went first
    assert cache.get(key_of("k", 0)) is MISS
    got = cache.get(key_of("k", 4))
    assert np.array_equal(got, big[4])
    got[:] = -1  # a copy: what the next session gets is unchanged
    assert np.array_equal(cache.get(key_of("k", 4)), big[4])
    assert not cache.put("huge", np.zeros(1_000_000, np.float32))  # 4 MB > one entry's limit
    assert cache.get("huge") is MISS


def test_result_cache_entries_expire() -> None:
    cache = ResultCache(10_000, ttl=0.05)
    cache.put("a", 1)
    assert cache.get("a") == 1
    time.sleep(0.1)
    assert cache.get("a") is MISS and cache.nbytes == 0


def test_fair_lock_serves_waiters_before_a_releaser_that_comes_back() -> None:
    lock = FairLock()
    order: list[str] = []
    lock.acquire()
    waiting = threading.Event()

    def other() -> None:
        waiting.set()
        with lock:
            order.append("other")

    t = threading.Thread(target=other)
    t.start()
    waiting.wait()
    while lock.waiting == 0:
        time.sleep(0.001)
    lock.release()
    with lock:  # the long job's next step: queues behind the waiting request
        order.append("job")
    t.join()
    assert order == ["other", "job"]


def test_fair_lock_behaves_like_threading_lock() -> None:
    lock = FairLock()
    assert lock.acquire(blocking=False) and lock.locked()
    assert not lock.acquire(blocking=False)
    assert not lock.acquire(timeout=0.05)  # times out instead of hanging
    lock.release()
    assert not lock.locked() and lock.acquire(timeout=0.05)
    lock.release()
    with pytest.raises(RuntimeError):
        lock.release()


def test_other_requests_run_between_the_steps_of_a_long_visualisation(lite0, chelsea) -> None:
    """The featvis loop takes the model lock per step: a forward from another session gets the model
    while the long job is still running (not after it)."""
    import torch

    from vizcore.core.preprocess import to_input

    steps = 12
    done: list[int] = []
    served_at: list[int] = []

    def progress(n: int, _total: int, _img: object) -> None:
        done.append(n)

    def job() -> None:
        m = Model(lite0.model, "efficientnet_lite0", True, lite0.spec.mean, lite0.spec.std)
        visualise(m, Target("channel", "_blocks.1", (0,)), settings=Settings(size=48, steps=steps),
                  progress=progress, guard=lambda: lite0.lock)

    t = threading.Thread(target=job)
    t.start()
    while not done:
        time.sleep(0.01)
    x = to_input(chelsea.image, lite0.spec)
    with lite0.lock, torch.no_grad():
        lite0.model(x)
        served_at.append(len(done))
    t.join()
    assert served_at[0] < steps, "the other request waited for the whole job"
    assert_clean(lite0.model)


def test_unwritable_disk_cache_still_returns_the_result(lite0, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("in the way")
    cache = DiskCache(blocker)
    assert "not writable" in cache.write_problem()
    m = Model(lite0.model, "efficientnet_lite0", True, lite0.spec.mean, lite0.spec.std)
    vis = visualise(m, Target("channel", "_blocks.1", (0, 1)), settings=Settings(size=48, steps=2),
                    cache=cache)
    assert vis is not None and vis.images.shape == (2, 48, 48, 3)
    assert "Error" in vis.store_error
    assert DiskCache(tmp_path / "ok").write_problem() == ""


def test_escape_md_neutralises_images_links_and_html() -> None:
    out = escape_md("![t](http://evil/x.png) <img src=x> *bold* _i_\nline")
    assert not re.search(r"(?<!\\)[!\[\]()<>*_]", out) and "\n" not in out  # every special escaped
    assert out.replace("\\", "") == "![t](http://evil/x.png) <img src=x> *bold* _i_ line"


def _page_with_error() -> None:
    from app.shell.errors import guarded

    def boom() -> None:
        raise ZeroDivisionError("secret /srv/path detail")

    guarded(boom)


def test_unexpected_error_shows_an_id_and_logs_the_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, logger="cnn_lens.errors")
    at = AppTest.from_function(_page_with_error, default_timeout=60).run()
    assert not at.exception
    msg = at.error[0].value
    assert "error id" in msg and "secret" not in msg and "/srv" not in msg
    error_id = msg.split("`")[1]
    rec = next(r for r in caplog.records if error_id in r.getMessage())
    assert rec.exc_info and rec.exc_info[0] is ZeroDivisionError


def _uploads_page() -> None:
    import streamlit as st

    from app.shell import uploads

    class Fake:
        def __init__(self, i: int, size: int) -> None:
            self.file_id, self.size, self.name = f"f{i}", size, f"f{i}.png"

        def getvalue(self) -> bytes:
            return b"x" * 10

    n = st.session_state.get("n", 0)
    try:
        uploads.take(Fake(n, st.session_state.get("size", 1)))
        uploads.take(Fake(n, st.session_state.get("size", 1)))  # the same file again: counted once
        st.write(f"ok {uploads._budget()['files']}")
    except uploads.UploadRefused as exc:
        st.write(f"refused: {exc}")


def test_session_upload_budget_counts_files_and_bytes() -> None:
    from app.shell import uploads

    at = AppTest.from_function(_uploads_page, default_timeout=60)
    for i in range(uploads.SESSION_MAX_FILES):
        at.session_state["n"] = i
        at.run()
    assert at.markdown[0].value == f"ok {uploads.SESSION_MAX_FILES}"
    at.session_state["n"] = 999
    at.run()
    assert "limit is 40 per session" in at.markdown[0].value
    at = AppTest.from_function(_uploads_page, default_timeout=60)
    at.session_state["size"] = uploads.SESSION_MAX_BYTES + 1
    at.run()
    assert "the limit is 150 MB per session" in at.markdown[0].value


def _released_upload_page() -> None:
    import streamlit as st
    from streamlit.runtime.uploaded_file_manager import DeletedFile

    from app.shell import sidebar, uploads

    # what the sidebar uploader holds when it is redrawn on another page after its file was released
    st.session_state[sidebar.uploader_key()] = DeletedFile("gone")
    sidebar._on_upload()
    st.write(f"received={uploads.received(st.session_state[sidebar.uploader_key()])} "
             f"error={st.session_state.get(sidebar.ERROR_KEY)}")


def test_released_upload_is_no_file_not_a_crash() -> None:
    at = AppTest.from_function(_released_upload_page, default_timeout=60).run()
    assert not at.exception, at.exception
    assert at.markdown[0].value == "received=False error=None"


def _png(colour: tuple[int, int, int]) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (120, 90), colour).save(buf, "PNG")
    return buf.getvalue()


def test_uploader_decides_by_content_and_escapes_names() -> None:
    from tests.apptest_utils import fresh_app, no_exceptions

    at = fresh_app().run()
    at.sidebar.file_uploader[0].upload("holiday.xyz", _png((0, 200, 0)), "application/octet-stream").run()
    no_exceptions(at)
    assert at.session_state["image_name"] == "holiday.xyz" and not at.error
    evil = "![t](http://127.0.0.1:9/pwned.png).txt"
    at.sidebar.file_uploader[0].upload(evil, b"plain text, not a picture", "text/plain").run()
    no_exceptions(at)
    msg = " ".join(e.value for e in at.error)
    assert "This file is not an image we can read" in msg and "StreamlitAPIException" not in msg
    assert "\\!\\[t\\]\\(http\\://127.0.0.1\\:9/pwned.png\\)" in msg and "![t](" not in msg
    assert at.session_state["image_name"] == "holiday.xyz"  # the previous photo is kept


def test_guarded_run_in_parts_gives_the_same_images(lite0) -> None:
    """On a shared server each step is split into turns of ``micro_batch(size)`` images: same pictures."""
    from contextlib import nullcontext

    from vizcore.featvis.render import micro_batch, render

    target = Target("channel", "_blocks.1", (0, 1, 2, 3, 4))
    settings = Settings(size=128, steps=3)
    turns: list[int] = []

    def guard() -> object:
        turns.append(1)
        return nullcontext()

    kw = dict(mean=lite0.spec.mean, std=lite0.spec.std, settings=settings)
    whole = render(lite0.model, target, **kw)
    parts = render(lite0.model, target, guard=guard, **kw)
    assert micro_batch(40) == 20 and micro_batch(128) == 2 and micro_batch(224) == micro_batch(288) == 1
    assert len(turns) == settings.steps * 3 + 1  # 5 images of 128 px: parts of 2, 2, 1 + the final pass
    assert np.abs(whole.images.astype(int) - parts.images.astype(int)).max() <= 1
    np.testing.assert_allclose(whole.history, parts.history, rtol=1e-4, atol=1e-4)
    assert_clean(lite0.model)
