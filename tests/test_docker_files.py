"""The Docker build is reproducible and small (issue 13, finding 10): base image pinned by digest, one
constraints file used by both make and the Dockerfile, a CPU-torch build argument, no .venv/.git in
the build context."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_base_image_pinned_by_digest() -> None:
    froms = re.findall(r"^FROM\s+(\S+)", (ROOT / "Dockerfile").read_text(), flags=re.M)
    assert froms and all(re.search(r"@sha256:[0-9a-f]{64}$", f) for f in froms), froms


def test_constraints_used_by_make_and_docker_and_pin_everything() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    make = (ROOT / "Makefile").read_text()
    assert "-c constraints.txt" in make and "-c constraints.txt" in docker
    assert "COPY pyproject.toml README.md constraints.txt" in docker
    pins = {line.split("==")[0].lower(): line.split("==")[1] for line in
            (ROOT / "constraints.txt").read_text().splitlines() if line and not line.startswith("#")}
    assert pins["torch"] == "2.14.1" and pins["torchvision"] == "0.29.1"
    for dep in ("streamlit", "pillow", "numpy", "captum", "plotly"):
        assert dep in pins, dep


def test_cpu_torch_build_argument_defaults_to_pypi() -> None:
    docker = (ROOT / "Dockerfile").read_text()
    assert 'ARG TORCH_INDEX_URL=""' in docker
    assert 'if [ -n "$TORCH_INDEX_URL" ]' in docker


def test_dockerignore_keeps_the_venv_and_git_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".venv", ".git", "tests", "test-artifacts", "**/__pycache__"} <= ignored
