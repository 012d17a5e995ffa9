"""The app's CSS, injected from one place (``app/main.py`` calls ``apply(presenting())``).

Always: captions and small print ≥ 14 CSS px in a colour that passes WCAG AA (≥ 4.5:1) on the light
theme, pictures never wider than their column, a compact sidebar (photo picker above the fold at
1366×768). Presenter mode (projector): body text 20 px, bolder high-contrast captions, less page
padding so figures get the width.
"""

from __future__ import annotations

import streamlit as st

CAPTION_COLOUR = "#3b4252"  # 9.7:1 on white
CAPTION_PX = 14
PRESENT_BODY_PX = 20
PRESENT_CAPTION_PX = 17

BASE_CSS = f"""
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p,
[data-testid="stImageCaption"], [data-testid="stMetricLabel"] p,
[data-testid="stFileUploaderDropzoneInstructions"] span,
[data-testid="stFileUploaderDropzoneInstructions"] small {{
  font-size: max({CAPTION_PX}px, 1em) !important;
  color: {CAPTION_COLOUR} !important;
  opacity: 1 !important;
}}
[data-testid="stImageCaption"] {{ line-height: 1.35; }}
[data-testid="stMain"] img, [data-testid="stMain"] canvas, [data-testid="stMain"] svg.main-svg,
[data-testid="stSidebar"] img {{ max-width: 100%; }}
[data-testid="stMain"] iframe {{ max-width: 100%; }}
[data-testid="stSidebarUserContent"] {{ padding-top: 0.5rem; }}
[data-testid="stSidebarUserContent"] [data-testid="stVerticalBlock"] {{ gap: 0.55rem; }}
[data-testid="stSidebarHeader"] {{ height: 2.25rem; margin-bottom: 0; padding-top: 0.5rem; }}
[data-testid="stSidebarNavItems"] {{ padding-top: 0; padding-bottom: 0.25rem; }}
[data-testid="stSidebarNavLinkContainer"] {{ height: auto; }}
[data-testid="stSidebarNavLink"] {{ min-height: 0; height: 1.6rem; line-height: 1.6rem;
  padding-top: 0; padding-bottom: 0; margin: 0; }}
[data-testid="stNavSectionHeader"] {{ margin: 0.3rem 0 0 0 !important; padding-top: 0 !important;
  padding-bottom: 0 !important; min-height: 0 !important; line-height: 1.3rem; }}
[data-testid="stSidebarNavSeparator"] {{ margin: 0.25rem 0 !important; padding: 0 !important; }}
h1 {{ font-size: 2.1rem !important; padding-top: 0.25rem !important; padding-bottom: 0.5rem !important; }}
[data-testid="stMainBlockContainer"] {{ padding-top: 3.5rem !important; }}
[data-testid="stSidebar"] [data-testid="stImage"] img {{ max-height: 120px; object-fit: contain; }}
"""

PRESENT_CSS = f"""
html {{ font-size: {PRESENT_BODY_PX}px; }}
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li,
[data-testid="stMain"] [data-testid="stWidgetLabel"] p {{
  font-size: {PRESENT_BODY_PX}px !important;
}}
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p, [data-testid="stImageCaption"] {{
  font-size: {PRESENT_CAPTION_PX}px !important;
  color: #111827 !important;
  font-weight: 500;
}}
[data-testid="stMainBlockContainer"] {{
  padding-left: 1.5rem !important; padding-right: 1.5rem !important;
  max-width: 100% !important;
}}
"""


def css(presenting: bool) -> str:
    """The stylesheet for this session (base rules, plus the presenter rules when presenting)."""
    return BASE_CSS + (PRESENT_CSS if presenting else "")


def apply(presenting: bool) -> None:
    """Inject the stylesheet (style-only HTML takes no space on the page)."""
    st.html(f"<style>{css(presenting)}</style>")
