"""Charts read from the back of the room: ``app.shell.charts.readable`` raises every axis, legend,
colour-bar, hover and reference-line label to the minimum and leaves sizes a figure chose alone."""

from __future__ import annotations

import re
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from app.shell.charts import LEAST_PX, readable

APP = Path(__file__).resolve().parent.parent / "app"


def _figure() -> go.Figure:
    fig = make_subplots(rows=1, cols=2)
    fig.add_trace(go.Heatmap(z=[[1, 2], [3, 4]], colorbar={"tickfont": {"size": 30}}), 1, 1)
    fig.add_trace(go.Heatmap(z=[[1]], coloraxis="coloraxis2"), 1, 2)
    fig.add_trace(go.Scatter(x=[0, 1], y=[1, 0], name="line"), 1, 2)
    fig.add_hline(y=0.5, annotation_text="reference", row=1, col=2)
    fig.add_annotation(x=0, y=0, text="inside a box", font={"size": 10}, showarrow=False)
    fig.update_layout(legend_title_text="family")
    fig.update_xaxes(tickfont_size=22, row=1, col=1)
    return fig


def test_small_labels_grow_and_chosen_sizes_stay() -> None:
    fig = readable(_figure(), 17)
    lay = fig.layout
    assert lay.xaxis.tickfont.size == 22  # larger already: kept
    for axis in (lay.xaxis2, lay.yaxis, lay.yaxis2):
        assert axis.tickfont.size == 17 and axis.title.font.size == 17
    assert lay.legend.font.size == lay.legend.title.font.size == lay.hoverlabel.font.size == 17
    assert fig.data[0].colorbar.tickfont.size == 30 and fig.data[0].colorbar.title.font.size == 17
    assert lay.coloraxis2.colorbar.tickfont.size == 17
    sizes = {a.text: a.font.size for a in lay.annotations}
    assert sizes == {"reference": 17, "inside a box": 10}
    assert readable(go.Figure()).layout.legend.font.size == LEAST_PX  # default minimum


def test_every_chart_of_the_app_goes_through_show() -> None:
    """A page calling ``st.plotly_chart`` itself would draw 12 px ticks again (the lab's own figure
    is the exception: its numbers are sized to its cells by the player)."""
    direct = [f"{p.relative_to(APP)}:{i}" for p in APP.rglob("*.py") if p.name != "charts.py"
              for i, line in enumerate(p.read_text().splitlines(), 1)
              if re.search(r"\.plotly_chart\(", line) and "theme=None" not in line]
    assert not direct, direct
