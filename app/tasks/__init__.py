"""Module-level computations handed to ``resources.compute`` (one module per page family)."""
