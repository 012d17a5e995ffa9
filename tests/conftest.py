"""Shared fixtures: sample photos, the offline model, tiny models, Streamlit helpers."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from models.registry import LoadedModel, load_model  # noqa: E402
from vizcore.core.images import LoadedImage, load_image  # noqa: E402

torch.set_num_threads(2)


def photo_bytes(name: str, fmt: str = "PNG") -> bytes:
    """A scikit-image sample photo (chelsea, coffee, rocket, astronaut) encoded as ``fmt``."""
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(getattr(data, name)()).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="session")
def lite0() -> LoadedModel:
    """The offline pretrained EfficientNet-Lite0, shared by the whole test session (do not mutate)."""
    return load_model("efficientnet_lite0")


@pytest.fixture(scope="session")
def chelsea() -> LoadedImage:
    """The cat photo, decoded by the app's loader."""
    return load_image(photo_bytes("chelsea"))


@pytest.fixture(scope="session")
def coffee() -> LoadedImage:
    """The espresso photo, decoded by the app's loader."""
    return load_image(photo_bytes("coffee"))


def count_hooks(model: torch.nn.Module) -> int:
    """Forward / backward hooks and ``observe`` wrappers (instance ``forward``) on all submodules."""
    total = 0
    for m in model.modules():
        total += len(m._forward_hooks) + len(m._forward_pre_hooks) + ("forward" in m.__dict__)
        total += len(m._backward_hooks) + len(getattr(m, "_backward_pre_hooks", {}))
    return total


def assert_clean(model: torch.nn.Module) -> None:
    """No hooks left, no parameter gradient, every parameter frozen, eval mode."""
    assert count_hooks(model) == 0, "hooks were left on the model"
    assert all(p.grad is None for p in model.parameters()), "a parameter has .grad"
    assert not any(p.requires_grad for p in model.parameters()), "a parameter requires grad"
    assert not any(m.training for m in model.modules()), "a module is in training mode"


@pytest.fixture
def rng() -> np.random.Generator:
    """A seeded numpy generator."""
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory: pytest.TempPathFactory):
    """Base URL of a real ``streamlit run app/main.py`` on a free localhost port (stopped afterwards)."""
    from tests.devserver import AppServer, free_port

    server = AppServer(free_port(), tmp_path_factory.mktemp("server"))
    try:
        yield server.url
    finally:
        server.stop()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync")


@pytest.fixture(scope="session")
def playwright_driver():
    """One Playwright driver for the whole session (two sync drivers cannot run at once); skips when
    Debian Chromium is not installed."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


def launch_chromium(driver, *extra_args: str):
    """Headless Debian Chromium with our flags plus ``extra_args`` (close it when done)."""
    return driver.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                  args=[*CHROMIUM_ARGS, *extra_args])


@pytest.fixture(scope="session")
def browser(playwright_driver):
    """Headless Debian Chromium driven by Playwright (skips when Chromium is not installed)."""
    b = launch_chromium(playwright_driver)
    try:
        yield b
    finally:
        b.close()
