"""A self-contained HTML player for a lab animation: everything steps in the browser.

Buttons ⏮ ◀ ▶/⏸ ▶ ⏭, a speed menu, a scrub bar and the keys ← → (step), space (play/pause),
Home/End. The step line is HTML above the figure (it wraps instead of being cut off), and every
cell's font is fitted to the cell as drawn (any window width or browser zoom). The current step is
written into the app's URL (``?step=N``, 1-based) so a shared link opens on it.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from plotly.offline import get_plotlyjs

SPEEDS = {"slow": 1200, "normal": 500, "fast": 150, "very fast": 40}
_JS = Path(__file__).with_name("player.js")


def bar_px(big: bool) -> int:
    """Height of the toolbar + two lines of step text above the figure (added to the iframe)."""
    return 116 if big else 92


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    return get_plotlyjs()


@lru_cache(maxsize=1)
def _player_js() -> str:
    return _JS.read_text(encoding="utf-8")


def player_html(fig_json: str, *, big: bool = False, speed: str = "normal", start: int = 0,
                plotly_src: str | None = None) -> str:
    """HTML page that plays ``fig_json`` (a lab figure as plotly JSON text), from step ``start``
    (0-based). plotly.js is loaded from ``plotly_src`` when given (served statically by the app),
    else inlined so the page works offline as a download."""
    script = (f'<script src="{plotly_src}"></script>' if plotly_src
              else f"<script>{_plotly_js()}</script>")
    size = 20 if big else 15
    options = "".join(f'<option value="{ms}"{" selected" if name == speed else ""}>{name}</option>'
                      for name, ms in SPEEDS.items())
    return f"""<!doctype html><html><head><meta charset="utf-8">
{script}
<style>
 body {{ margin: 0; overflow-x: hidden; font-family: "Source Sans Pro", sans-serif; font-size: {size}px; }}
 #bar {{ display: flex; gap: 8px; align-items: center; flex-wrap: wrap; padding: 4px 2px; }}
 #bar select {{ font-size: {size}px; }}
 #bar button {{ font-size: {size}px; padding: 3px 12px; border-radius: 8px; cursor: pointer;
   border: 1px solid #bbb; background: #fff; }}
 #bar button:focus-visible, #scrub:focus-visible {{ outline: 3px solid #e4572e; }}
 #play {{ min-width: 6.5em; background: #c4411b !important; color: #fff; border-color: #c4411b !important; }}
 #scrub {{ flex: 1 1 160px; min-width: 120px; accent-color: #c4411b; }}
 #pos {{ font-weight: 600; white-space: nowrap; }}
 .hint {{ color: #444; font-size: {size - 2}px; }}
 #step {{ font-size: {size + 2}px; padding: 2px 4px; min-height: 1.3em; line-height: 1.3; }}
 .gtitle {{ display: none; }}
</style></head><body tabindex="0">
<div id="bar" role="toolbar" aria-label="animation controls">
 <button id="first" title="first step (Home)" aria-label="first step">⏮</button>
 <button id="prev" title="step back (←)" aria-label="step back">◀ back</button>
 <button id="play" title="play / pause (space)" aria-label="play or pause">▶ play</button>
 <button id="next" title="step forward (→)" aria-label="step forward">forward ▶</button>
 <button id="last" title="last step (End)" aria-label="last step">⏭</button>
 <label>speed <select id="speed">{options}</select></label>
 <input id="scrub" type="range" min="1" value="1" aria-label="scrub through the steps">
 <span id="pos"></span><span class="hint">keys: ← → space Home End</span>
</div>
<div id="step" aria-live="polite"></div>
<div id="plot"></div>
<script>
const fig = {fig_json};
const START = {int(start)}, BIG = {"true" if big else "false"};
</script>
<script>{_player_js()}</script></body></html>"""
