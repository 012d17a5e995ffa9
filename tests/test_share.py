"""Shareable views: URL ↔ widget state (``share.sync``), the link (network address on localhost,
base path kept, presenter flag left out) and its QR code."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from app.shell import share

SCRIPT = """
import streamlit as st
from app.shell import share
share.sync("k", "n", defaults={"n": 0}, choices={"k": ["a", "b"], "n": range(10)},
           on_restore={"k": lambda: st.session_state.__setitem__("restored", True)})
st.selectbox("k", ["a", "b"], key="k")
st.number_input("n", 0, 9, key="n")
"""


def _app(**params: str) -> AppTest:
    at = AppTest.from_string(SCRIPT, default_timeout=30)
    at.query_params.update(params)
    return at.run()


def test_sync_restores_widgets_from_the_url_then_the_url_follows_them() -> None:
    at = _app(k="b", n="7")
    assert not at.exception
    assert at.selectbox(key="k").value == "b" and at.number_input(key="n").value == 7
    assert at.session_state["restored"] is True
    at.selectbox(key="k").set_value("a").run()
    assert at.query_params["k"] == ["a"] or at.query_params["k"] == "a"
    at.query_params["k"] = "b"  # the URL is read once per session: later edits do not override widgets
    at.run()
    assert at.selectbox(key="k").value == "a"


def test_sync_ignores_values_outside_the_choices() -> None:
    at = _app(k="zzz", n="99")
    assert not at.exception
    assert at.selectbox(key="k").value == "a" and at.number_input(key="n").value == 0
    assert "restored" not in at.session_state


def test_link_on_localhost_uses_the_network_address_and_says_so() -> None:
    link = share.build_link("http://localhost:8501/feature_maps", "feature_maps",
                            {"sample": "coffee", "present": "1", "fm_layer::m": "_blocks.9._bn1"},
                            lan_ip="192.168.1.20")
    assert link.url == ("http://192.168.1.20:8501/feature_maps?sample=coffee"
                        "&fm_layer%3A%3Am=_blocks.9._bn1")
    assert "network address 192.168.1.20" in link.note and "present" not in link.url
    loopback = share.build_link("http://127.0.0.1:8501/", "lab", {}, lan_ip="10.0.0.5",
                                loopback_only=True)
    assert loopback.url == "http://10.0.0.5:8501/lab" and "--server.address 0.0.0.0" in loopback.note
    alone = share.build_link("http://localhost:8501/", "lab", {}, lan_ip=None)
    assert alone.url == "http://localhost:8501/lab" and "only works on this computer" in alone.note


def test_link_keeps_a_public_host_and_the_base_path() -> None:
    link = share.build_link("https://school.example/cnn/filters", "receptive_field", {"x": "1"},
                            lan_ip="10.0.0.5", pages=["filters", "receptive_field"])
    assert link.url == "https://school.example/cnn/receptive_field?x=1" and link.note == ""
    home = share.build_link("https://school.example/cnn/", "", {}, lan_ip=None)
    assert home.url == "https://school.example/cnn/"


def test_network_address_is_not_loopback() -> None:
    ip = share.network_address()
    assert ip is None or not ip.startswith("127.")


@pytest.mark.parametrize("url", ["http://192.168.1.20:8501/feature_maps?sample=coffee",
                                 "http://10.0.0.5:8501/lab?lab_op=max+pool&lab_step=12"])
def test_qr_png_draws_the_code_of_the_link(url: str) -> None:
    import segno

    scale, border = 8, 4
    img = Image.open(io.BytesIO(share.qr_png(url, scale=scale))).convert("L")
    matrix = np.array([[bool(v) for v in row] for row in segno.make(url, error="m", micro=False).matrix])
    n = matrix.shape[0]
    assert img.size == ((n + 2 * border) * scale,) * 2
    centres = np.asarray(img)[border * scale + scale // 2::scale, border * scale + scale // 2::scale]
    assert np.array_equal(centres[:n, :n] < 128, matrix)  # dark pixel exactly where a module is set


SCOPED = """
import streamlit as st
from app.shell import share
layer = st.selectbox("layer", ["conv1", "conv2"], key="layer")
key = f"pick::m::{layer}"
share.sync(key, "plain", defaults={key: 0, "plain": 0})
st.number_input("pick", 0, 9, key=key)
"""


def test_a_scoped_key_replaces_its_siblings_in_the_url() -> None:
    at = AppTest.from_string(SCOPED, default_timeout=30)
    at.query_params.update({"pick::m::conv1": "4", "pick::m::old": "1", "plain": "2",
                            "other::m::conv1": "3"})
    at.run()
    assert not at.exception and at.number_input(key="pick::m::conv1").value == 4
    params = dict(at.query_params)
    assert "pick::m::old" not in params and "pick::m::conv1" in params
    assert "plain" in params and "other::m::conv1" in params  # other families are left alone
    at.selectbox(key="layer").set_value("conv2").run()
    assert "pick::m::conv1" not in dict(at.query_params)
    at.run()  # the new layer's widget exists now: its value joins the link
    params = dict(at.query_params)
    assert "pick::m::conv2" in params and "pick::m::conv1" not in params
