"""CNN Lens Streamlit app: pages only; all computation lives in ``vizcore``."""
