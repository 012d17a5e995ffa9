"""Pure figure builders (plotly / PIL), testable without Streamlit; one module per page family."""
