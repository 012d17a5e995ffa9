"""A self-contained HTML player for a lab animation: everything steps in the browser.

Buttons ⏮ ◀ ▶/⏸ ▶ ⏭, a speed menu and the keys ← → (step), space (play/pause), Home/End, on top
of the figure's own slider. No server round trip: plotly.js animates the prepared frames.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from plotly.offline import get_plotlyjs

SPEEDS = {"slow": 1200, "normal": 500, "fast": 150, "very fast": 40}


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    return get_plotlyjs()


def player_html(spec: dict[str, Any], *, big: bool = False, speed: str = "normal",
                plotly_src: str | None = None) -> str:
    """HTML page that plays ``spec`` (a lab figure dict).

    plotly.js is loaded from ``plotly_src`` when given (served statically by the app), else inlined
    so the page works offline as a download.
    """
    script = (f'<script src="{plotly_src}"></script>' if plotly_src
              else f"<script>{_plotly_js()}</script>")
    spec = {**spec, "layout": {**spec["layout"], "updatemenus": []}}  # our own buttons replace them
    size = 20 if big else 15
    options = "".join(f'<option value="{ms}"{" selected" if name == speed else ""}>{name}</option>'
                      for name, ms in SPEEDS.items())
    return f"""<!doctype html><html><head><meta charset="utf-8">
{script}
<style>
 body {{ margin: 0; overflow-x: hidden; font-family: "Source Sans Pro", sans-serif; font-size: {size}px; }}
 #bar {{ display: flex; gap: 8px; align-items: center; flex-wrap: wrap; padding: 4px 2px; }}
 #bar button {{ font-size: {size}px; padding: 4px 12px; border-radius: 8px; cursor: pointer;
   border: 1px solid #bbb; background: #fff; }}
 #bar button:focus-visible {{ outline: 3px solid #e4572e; }}
 #play {{ min-width: 6.5em; background: #e4572e !important; color: #fff; border-color: #e4572e !important; }}
 #pos {{ font-weight: 600; margin-left: 8px; }}
 .hint {{ color: #666; font-size: {size - 3}px; }}
</style></head><body tabindex="0">
<div id="bar" role="toolbar" aria-label="animation controls">
 <button id="first" title="first step (Home)" aria-label="first step">⏮</button>
 <button id="prev" title="step back (←)" aria-label="step back">◀ back</button>
 <button id="play" title="play / pause (space)" aria-label="play or pause">▶ play</button>
 <button id="next" title="step forward (→)" aria-label="step forward">forward ▶</button>
 <button id="last" title="last step (End)" aria-label="last step">⏭</button>
 <label>speed <select id="speed">{options}</select></label>
 <span id="pos"></span><span class="hint">keys: ← → space Home End</span>
</div>
<div id="plot"></div>
<script>
const fig = {json.dumps(spec, separators=(",", ":"))};
const gd = document.getElementById("plot"), pos = document.getElementById("pos");
const playBtn = document.getElementById("play"), speedSel = document.getElementById("speed");
const names = fig.frames.map(f => f.name);
let cur = 0, timer = null;
function label() {{ pos.textContent = "step " + (cur + 1) + " / " + names.length; }}
function show(i) {{
  cur = Math.max(0, Math.min(names.length - 1, i)); label();
  return Plotly.animate(gd, [names[cur]], {{mode: "immediate", frame: {{duration: 0, redraw: true}},
                                            transition: {{duration: 0}}}});
}}
function pause() {{ if (timer) clearInterval(timer); timer = null; playBtn.textContent = "▶ play"; }}
function play() {{
  if (cur >= names.length - 1) show(0);
  playBtn.textContent = "⏸ pause";
  timer = setInterval(() => {{ if (cur >= names.length - 1) pause(); else show(cur + 1); }},
                      Number(speedSel.value));
}}
function toggle() {{ if (timer) pause(); else play(); }}
document.getElementById("first").onclick = () => {{ pause(); show(0); }};
document.getElementById("last").onclick = () => {{ pause(); show(names.length - 1); }};
document.getElementById("prev").onclick = () => {{ pause(); show(cur - 1); }};
document.getElementById("next").onclick = () => {{ pause(); show(cur + 1); }};
playBtn.onclick = toggle;
speedSel.onchange = () => {{ if (timer) {{ pause(); play(); }} }};
document.addEventListener("keydown", e => {{
  const k = {{ArrowRight: () => show(cur + 1), ArrowLeft: () => show(cur - 1), " ": toggle,
             Home: () => show(0), End: () => show(names.length - 1)}}[e.key];
  if (k) {{ e.preventDefault(); if (e.key !== " ") pause(); k(); }}
}});
Plotly.newPlot(gd, fig.data, fig.layout, {{displaylogo: false, responsive: true,
  modeBarButtonsToRemove: ["select2d", "lasso2d"]}}).then(() => {{
  Plotly.addFrames(gd, fig.frames);
  gd.on("plotly_sliderchange", e => {{ pause(); cur = names.indexOf(e.step.args[0][0]); label(); }});
  show(0); document.body.focus();
}});
window.labPlayer = {{show, play, pause, current: () => cur}};
</script></body></html>"""
