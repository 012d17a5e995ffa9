"""Shareable views: the URL carries the page's key settings (``st.query_params``).

A page calls ``sync("key1", "key2", …)`` with the session-state keys of the widgets that define its view,
BEFORE creating those widgets. On the session's first visit the values come from the URL; afterwards the
URL follows the widgets, so the address bar always holds a link to the exact view. The sidebar's
"Share this view" button (``button()``, drawn by the sidebar; ``dialog()`` after the page ran) shows
that link with a QR code for phones; on localhost the link uses the machine's network address.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import streamlit as st

_LOADED = "_share_loaded"
_OPEN = "_share_open"
PRIVATE = frozenset({"present"})  # URL keys that stay on the teacher's screen
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0", ""})


def _parse(raw: str, like: object) -> object:
    if isinstance(like, bool):
        return raw in ("1", "true", "True")
    if isinstance(like, int):
        return int(raw)
    if isinstance(like, float):
        return float(raw)
    return raw


def sync(*keys: str, defaults: dict[str, object] | None = None,
         choices: Mapping[str, Collection[object]] | None = None,
         on_restore: Mapping[str, Callable[[], None]] | None = None) -> None:
    """Restore ``keys`` from the URL once per session and page, then mirror them into the URL.

    ``defaults`` give the type of a key not yet in the session; a URL value outside ``choices[key]``
    is ignored (an old or edited link never breaks a widget); ``on_restore[key]`` runs after a key
    was restored (e.g. load the sample photo it names). A scoped key (``family::model::layer``)
    drops the URL's other keys of its family: the view of another layer or model is not this view."""
    defaults, choices, on_restore = defaults or {}, choices or {}, on_restore or {}
    loaded: set[str] = st.session_state.setdefault(_LOADED, set())
    for key in keys:
        if key not in loaded:
            loaded.add(key)
            raw = st.query_params.get(key)
            if raw is not None:
                like = st.session_state.get(key, defaults.get(key, ""))
                with contextlib.suppress(ValueError):
                    value = _parse(raw, like)
                    if key not in choices or value in choices[key]:
                        st.session_state[key] = value
                        if key in on_restore:
                            on_restore[key]()
        value = st.session_state.get(key)
        if value is not None:
            st.query_params[key] = str(value)
        elif key in st.query_params:
            del st.query_params[key]
        _forget_siblings(key)


def _forget_siblings(key: str) -> None:
    """A key scoped to a model or layer (``"flt_pick::resnet18::layer1.0.conv1"``) replaces its
    siblings in the URL (same part before the first ``::``): a link names only the layer shown now,
    and stays short enough for a readable QR code."""
    family, sep, _ = key.partition("::")
    if sep:
        for other in [k for k in st.query_params if k != key and k.partition("::")[0] == family
                      and "::" in k]:
            del st.query_params[other]


@dataclass(frozen=True)
class ShareLink:
    """The link to this view and how it was made (``note`` says when the host was replaced)."""

    url: str
    note: str


def network_address() -> str | None:
    """This machine's address on the local network (the interface of the default route), or None."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # UDP connect sends nothing; it only picks the outgoing interface
        ip = s.getsockname()[0]
        if not ipaddress.ip_address(ip).is_loopback:
            return ip
    with contextlib.suppress(OSError):
        for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET):
            ip = str(info[4][0])
            if not ipaddress.ip_address(ip).is_loopback:
                return ip
    return None


def _listens_on_loopback_only() -> bool:
    address = str(st.get_option("server.address") or "")
    return address in ("127.0.0.1", "localhost", "::1")


def build_link(page_url: str, page: str, params: Mapping[str, str], *,
               lan_ip: str | None, loopback_only: bool = False,
               pages: Collection[str] = ()) -> ShareLink:
    """The link to ``page`` with ``params`` on the server seen at ``page_url`` (the browser's URL,
    possibly of the page the session started on; ``pages`` are every page's URL path).

    A localhost URL is rewritten to ``lan_ip`` so phones on the same network can open it."""
    parts = urlsplit(page_url)
    host, port = parts.hostname or "", parts.port
    segments = [s for s in parts.path.split("/") if s]
    if segments and (segments[-1] == page or segments[-1] in pages):
        segments = segments[:-1]
    base = "/" + "/".join(segments)
    note = ""
    if host in LOCAL_HOSTS:
        if lan_ip:
            host = lan_ip
            note = (f"This app is served on localhost, so the link uses this machine's network "
                    f"address {lan_ip}: phones and laptops on the same network can open it.")
            if loopback_only:
                note += (" The server listens on localhost only: start it with "
                         "`--server.address 0.0.0.0` so others can connect.")
        else:
            note = "This app is served on localhost and this machine has no network address: " \
                "the link only works on this computer."
    netloc = f"[{host}]" if ":" in host else host
    netloc += f":{port}" if port else ""
    path = (base.rstrip("/") + "/" + page) if page else (base if base.endswith("/") else base + "/")
    query = urlencode({k: v for k, v in params.items() if k not in PRIVATE})
    return ShareLink(f"{parts.scheme or 'http'}://{netloc}{path}{'?' + query if query else ''}", note)


def current_link(page: str) -> ShareLink:
    """The link to what this session shows now (page ``page``, the synced settings)."""
    from app.shell.navigation import PAGES

    return build_link(st.context.url or "http://localhost/", page, st.query_params.to_dict(),
                      lan_ip=network_address(), loopback_only=_listens_on_loopback_only(),
                      pages=[e.url_path for e in PAGES])


def qr_png(url: str, *, scale: int = 8) -> bytes:
    """A QR code of ``url`` as PNG bytes (segno, error correction M, quiet zone of 4 modules)."""
    import io

    import segno

    buf = io.BytesIO()
    segno.make(url, error="m", micro=False).save(buf, kind="png", scale=scale, border=4)
    return buf.getvalue()


def _open() -> None:
    st.session_state[_OPEN] = True


def button() -> None:
    """The sidebar's "Share this view" button (the dialog opens after the page has run)."""
    st.button("🔗 Share", key="share_button", on_click=_open, width="stretch",
              help="Share this view: a link (and a QR code for phones) that opens this page with "
                   "the same model, photo and settings.")


def dialog(page: str) -> None:
    """Show the share dialog if the button was pressed in this run (call after the page ran)."""
    if st.session_state.pop(_OPEN, False):
        _share_dialog(page)


@st.dialog("Share this view", width="medium")
def _share_dialog(page: str) -> None:
    link = current_link(page)
    st.markdown("Students open this link (or scan the code) to see **this page with the same model, "
                "photo and settings**:")
    st.code(link.url, language=None, wrap_lines=True)
    if link.note:
        st.caption(link.note)
    if st.session_state.get("image_name", "").startswith("sample:") is False:
        st.caption("Your own photo does not travel in a link: students see the default sample "
                   "photo unless you pick a sample in the sidebar.")
    st.image(qr_png(link.url), width=300, caption="Scan with a phone camera")
