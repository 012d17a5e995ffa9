"""A minimal Streamlit client speaking the browser's websocket protocol (for ``bench/load.py``).

One ``Session`` = one browser tab: a websocket to ``/_stcore/stream`` carrying ``BackMsg`` /
``ForwardMsg`` protobufs, a reader thread that records what the server sends (alerts, image
captions, exceptions, message sizes, the end of each script run), and the sidebar uploader driven
as the frontend does it (multipart PUT to ``/_stcore/upload_file/<session>/<file>``, then a rerun
with the uploader's widget state). Loopback only; every wait is bounded. Importing it does nothing.
"""

from __future__ import annotations

import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.sync.client import connect

ALERT_KINDS = {1: "error", 2: "warning", 3: "info", 4: "success"}


def _unescape(markdown: str) -> str:
    """The text a browser shows for a markdown caption's backslash escapes (``photo\\-1`` → ``photo-1``)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


@dataclass
class Run:
    """What one script run sent (reset by each ``new_session`` message)."""

    started: float = field(default_factory=time.monotonic)
    alerts: list[tuple[str, str]] = field(default_factory=list)  # (kind, body)
    images: list[tuple[str, str, float]] = field(default_factory=list)  # (caption, url, arrival)
    exceptions: list[str] = field(default_factory=list)
    finished: int | None = None  # ScriptFinishedStatus
    largest: int = 0


class Session:
    """One simulated browser session against ``base`` (``http://127.0.0.1:<port>``)."""

    def __init__(self, base: str, *, timeout: float = 30.0, headers: dict[str, str] | None = None) -> None:
        if not base.startswith("http://127.0.0.1:"):
            raise ValueError("loopback only: base must be http://127.0.0.1:<port>")
        self.base = base
        self.headers = dict(headers or {})  # sent with every request (e.g. Cookie behind a proxy)
        self._cond = threading.Condition()
        self.run = Run()
        self.runs = 0
        self.session_id = ""
        self.pages: dict[str, str] = {}  # url_pathname -> page_script_hash
        self.uploader_id = ""
        self.largest = 0
        self.page_hash = ""
        self.widgets: dict[str, tuple[str, str, tuple[str, ...]]] = {}  # label -> (kind, id, options)
        self._states: dict[str, tuple[str, object]] = {}  # widget id -> (proto field, value)
        self._file_id = ""
        self._ws = connect(base.replace("http", "ws", 1) + "/_stcore/stream",
                           subprotocols=["streamlit"], compression=None, max_size=None,
                           proxy=None, open_timeout=timeout, legacy=True,
                           additional_headers=self.headers or None)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    # ── receiving ─────────────────────────────────────────────────────────────────────────────
    def _read(self) -> None:
        try:
            for data in self._ws:
                self._handle(data if isinstance(data, bytes) else data.encode())
        except Exception:  # connection closed: waits time out and report it
            pass
        finally:
            with self._cond:
                self.run.finished = self.run.finished if self.run.finished is not None else -1
                self._cond.notify_all()

    def _handle(self, data: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(data)
        kind = msg.WhichOneof("type")
        with self._cond:
            self.largest = max(self.largest, len(data))
            if kind == "new_session":
                self.run = Run()
                self.runs += 1
                if msg.new_session.initialize.session_id:
                    self.session_id = msg.new_session.initialize.session_id
            self.run.largest = max(self.run.largest, len(data))
            if kind == "navigation":
                self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element)
            elif kind == "script_finished":
                self.run.finished = msg.script_finished
            self._cond.notify_all()

    def _element(self, el) -> None:
        which = el.WhichOneof("type")
        now = time.monotonic()
        if which == "alert":
            self.run.alerts.append((ALERT_KINDS.get(el.alert.format, "?"), el.alert.body))
        elif which == "imgs":
            # captions are markdown: user-provided names arrive backslash-escaped; keep the shown text
            self.run.images += [(_unescape(i.caption), i.url, now) for i in el.imgs.imgs]
        elif which == "exception":
            self.run.exceptions.append(f"{el.exception.type}: {el.exception.message}")
        elif which == "file_uploader":
            self.uploader_id = el.file_uploader.id
        elif which in ("selectbox", "button", "checkbox"):
            w = getattr(el, which)
            self.widgets[w.label] = (which, w.id, tuple(getattr(w, "options", ())))

    def choose(self, label: str, pick: Callable[[str], bool]) -> str:
        """Set select box ``label`` to its first option for which ``pick`` holds (sent on next rerun)."""
        _kind, wid, options = self.widgets[label]
        value = next(o for o in options if pick(o))
        self._states[wid] = ("string_value", value)
        return value

    def click(self, label: str) -> None:
        """Press button ``label`` on the next rerun (a one-shot trigger, as in the browser)."""
        self._states[self.widgets[label][1]] = ("trigger_value", True)

    def wait(self, pred: Callable[[Run], bool], timeout: float) -> Run:
        """Block until ``pred(current run)`` holds (or raise ``TimeoutError``)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not pred(self.run):
                left = deadline - time.monotonic()
                if left <= 0 or self.run.finished == -1:
                    raise TimeoutError(f"no result after {timeout:.0f} s (connection "
                                       f"{'closed' if self.run.finished == -1 else 'open'})")
                self._cond.wait(min(left, 1.0))
            return self.run

    def wait_finished(self, timeout: float) -> Run:
        """Block until the current script run has finished."""
        return self.wait(lambda r: r.finished is not None, timeout)

    # ── sending ───────────────────────────────────────────────────────────────────────────────
    def rerun(self, page: str | None = None, *, with_upload: bool = True) -> None:
        """Ask for a script run (optionally on page ``page`` = its url path, e.g. ``"explain"``)."""
        back = BackMsg()
        cs = back.rerun_script
        cs.SetInParent()
        if page is not None:
            self.page_hash = self.pages.get(page, "")
            cs.page_name = page
        if self.page_hash:
            cs.page_script_hash = self.page_hash
        for wid, (kind, value) in list(self._states.items()):
            w = cs.widget_states.widgets.add()
            w.id = wid
            setattr(w, kind, value)
            if kind == "trigger_value":
                del self._states[wid]
        if with_upload and self._file_id and self.uploader_id:
            w = cs.widget_states.widgets.add()
            w.id = self.uploader_id
            info = w.file_uploader_state_value.uploaded_file_info.add()
            info.file_id, info.name, info.size = self._file_id, self._file_name, self._file_size
        with self._cond:
            self.run = Run()
        self._ws.send(back.SerializeToString())

    def upload(self, data: bytes, name: str, *, timeout: float = 30.0) -> None:
        """PUT ``data`` as the sidebar uploader's file (replacing the previous one), then rerun."""
        if not (self.session_id and self.uploader_id):
            raise RuntimeError("run a page first: no session id / uploader seen yet")
        old = self._file_id
        file_id = uuid.uuid4().hex
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\""
                f"\r\nContent-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        url = f"{self.base}/_stcore/upload_file/{self.session_id}/{file_id}"
        req = urllib.request.Request(url, data=body, method="PUT", headers={
            **self.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            if r.status not in (200, 204):
                raise RuntimeError(f"upload failed: HTTP {r.status}")
        self._file_id, self._file_name, self._file_size = file_id, name, len(data)
        if old:  # the frontend deletes the replaced file
            req = urllib.request.Request(f"{self.base}/_stcore/upload_file/{self.session_id}/{old}",
                                         method="DELETE", headers=self.headers)
            with urllib.request.urlopen(req, timeout=timeout):
                pass
        self.rerun()

    def fetch(self, url: str, *, timeout: float = 30.0) -> bytes:
        """GET a media URL the server sent (e.g. an ``st.image`` PNG)."""
        full = url if url.startswith("http") else self.base + ("" if url.startswith("/") else "/") + url
        if not full.startswith(self.base):
            raise ValueError("loopback only")
        with urllib.request.urlopen(urllib.request.Request(full, headers=self.headers),
                                    timeout=timeout) as r:
            return r.read()

    def close(self) -> None:
        """Close the websocket (the server then stops this session's script)."""
        try:
            self._ws.close()
        finally:
            self._reader.join(timeout=10)


def open_session(base: str, *, page: str = "", timeout: float = 120.0,
                 headers: dict[str, str] | None = None) -> Session:
    """Connect, run the app once (learning pages and the uploader id), optionally switch page."""
    s = Session(base, headers=headers)
    s.rerun()
    s.wait_finished(timeout)
    if page:
        s.rerun(page)
        s.wait_finished(timeout)
    return s
