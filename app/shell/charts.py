"""Plotly charts that read from the back of a classroom: every page draws its charts through ``show``.

Streamlit's chart theme draws axis tick labels, legends and colour-bar labels at 12 px — unreadable on a
projector. ``readable`` raises those to at least 14 px (17 px in presenter mode) and leaves alone the text
a figure sizes itself to fit (numbers in heatmap cells, labels inside diagram boxes, point labels placed
to avoid each other).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from app.shell.presenter import presenting

LEAST_PX = 14
PRESENT_LEAST_PX = 17


def _at_least(font: Any, least: int) -> None:
    font.size = max(font.size or 0, least)


def readable(fig: go.Figure, least: int = LEAST_PX) -> go.Figure:
    """``fig`` (changed in place and returned) with axis tick labels and titles, legend entries and
    title, colour-bar labels, hover labels and annotations without a size of their own at least
    ``least`` px."""
    def axis(a: Any) -> None:
        _at_least(a.tickfont, least)
        _at_least(a.title.font, least)

    fig.for_each_xaxis(axis)
    fig.for_each_yaxis(axis)
    layout = fig.layout
    _at_least(layout.legend.font, least)
    _at_least(layout.legend.title.font, least)
    _at_least(layout.hoverlabel.font, least)
    for note in layout.annotations:  # labels of reference lines; boxes' own text sets its size
        if note.font.size is None:
            note.font.size = least
    for trace in fig.data:
        bar = getattr(trace, "colorbar", None)
        if bar is not None:
            _at_least(bar.tickfont, least)
            _at_least(bar.title.font, least)
    for name in sorted({getattr(t, "coloraxis", None) for t in fig.data} - {None}):
        fig.update_layout({name: {}})  # a shared colour axis a trace refers to (created if unset)
        _at_least(fig.layout[name].colorbar.tickfont, least)
        _at_least(fig.layout[name].colorbar.title.font, least)
    return fig


def show(fig: go.Figure, *, where: Any = None, **kwargs: Any) -> Any:
    """``st.plotly_chart`` (or ``where.plotly_chart``, e.g. a column or an ``st.empty()``) of ``fig``
    made readable for this session (larger while presenting); returns what Streamlit returns (the
    selection when ``on_select`` is given)."""
    readable(fig, PRESENT_LEAST_PX if presenting() else LEAST_PX)
    return (where if where is not None else st).plotly_chart(fig, **kwargs)
