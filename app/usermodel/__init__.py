"""Your own model: the sidebar's "Your own model…" panel, the per-session model store, the models
registered from the command line, and the draw-a-digit input for small grayscale models."""
