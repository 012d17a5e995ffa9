"""Architectures side by side: model facts for the history chart (``catalog``), latency and its disk
store (``latency``), blocks traced with ``torch.fx`` into drawable data (``blocks``, ``extract``,
``layout``), what each idea saves (``savings``), the reference block of every family (``cards``) and
two heatmaps on one grid (``compare``). No streamlit here."""
