"""Real browser: "Your own model…" (upload weights + labels, load, upload a photo, Grad-CAM) and the
draw-a-digit input (mouse strokes on the canvas → LeNet-5 predicts the digit), at 1366×768 and 1920×1080."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torchvision
from safetensors.torch import save_file
from torch import nn

from tests.browser_utils import shot, wait_idle
from tests.conftest import photo_bytes

pytestmark = pytest.mark.browser
VIEWPORTS = [(1366, 768), (1920, 1080)]
PAGES = [("Predict", "predict"), ("Explain", "explain"), ("Filters", "filters"),
         ("Feature maps", "feature-maps"), ("Architecture", "architecture"),
         ("Receptive field", "receptive-field"), ("Feature visualisation", "feature-vis"),
         ("Convolution lab", "lab")]


@pytest.fixture(scope="module")
def model_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A grayscale 3-class MobileNetV3-Small as safetensors (6 MB), its labels, and a photo."""
    d = tmp_path_factory.mktemp("browser-user-model")
    torch.manual_seed(0)
    m = torchvision.models.mobilenet_v3_small(num_classes=3)
    m.features[0][0] = nn.Conv2d(1, 16, 3, 2, 1, bias=False)
    save_file({k: v.contiguous() for k, v in m.state_dict().items()}, str(d / "xray_mobilenet.safetensors"))
    (d / "labels.json").write_text(json.dumps(["normal", "pneumonia", "covid"]))
    (d / "coffee.png").write_bytes(photo_bytes("coffee"))
    return {"weights": d / "xray_mobilenet.safetensors", "labels": d / "labels.json",
            "photo": d / "coffee.png"}


def open_app(browser, url: str, *, width: int, height: int):
    """The app at ``url`` after its first run (a generous wait: the shared 2-core machine is busy)."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stElementContainer"]', timeout=300_000)
    wait_idle(page, 300_000)
    return page


def pick_model(page, text: str, label: str = "Model") -> None:
    """Choose ``text`` in the sidebar select box ``label`` (typing filters the long list)."""
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]', has_text=label).first
    box.click()
    page.keyboard.type(text.split("…")[0][:12])
    page.locator('[role="option"]', has_text=text).first.click()
    wait_idle(page)


def upload_to(page, label: str, path: Path) -> None:
    """Upload ``path`` through the file uploader labelled ``label``."""
    up = page.locator('[data-testid="stFileUploader"]', has_text=label).first
    up.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(path))
    # the upload has reached the server: its entry is listed; long names are shortened in the middle
    # ("xra...et.safetensors"), so match the first three and the last six characters
    listed = re.compile(re.escape(path.name[:3]) + r".*" + re.escape(path.name[-6:]))
    up.get_by_text(listed).first.wait_for(timeout=180_000)
    page.wait_for_timeout(500)
    wait_idle(page, 180_000)


def goto(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.wait_for_timeout(400)
    wait_idle(page, 240_000)


def no_overflow(page) -> None:
    """Nothing in the main area is wider than the viewport (no horizontal cropping)."""
    wide = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollWidth"
                         " - document.querySelector('[data-testid=\"stMain\"]').clientWidth")
    assert wide <= 2, f"main area overflows by {wide} px"


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_upload_own_model_and_photo_then_gradcam(app_url: str, browser, model_files, viewport) -> None:
    w, h = viewport
    page = open_app(browser, app_url, width=w, height=h)
    sidebar = page.locator('[data-testid="stSidebar"]')
    pick_model(page, "Your own model…")
    assert "upload its weights in the sidebar" in page.locator('[data-testid="stMain"]').inner_text()
    upload_to(page, "Weights file", model_files["weights"])
    upload_to(page, "Class names", model_files["labels"])
    pick_model(page, "mobilenet_v3_small", label="Architecture")
    if w == 1366:  # the preprocessing override: a smaller input (also keeps the test fast)
        sidebar.get_by_text("Preprocessing and name").click()
        size = sidebar.locator('input[aria-label="Input size (px)"]')
        size.fill("160")
        size.press("Enter")
        wait_idle(page)
    sidebar.get_by_role("button", name="Load model").click()
    page.wait_for_function("() => /Loaded |was not loaded|Choose a weights/.test("
                           "document.querySelector('[data-testid=\"stSidebar\"]').innerText)",
                           timeout=240_000)
    wait_idle(page)
    text = sidebar.inner_text()
    shot(page, f"user-model-loaded-{w}x{h}")
    assert "Loaded " in text, text[-800:]
    assert "3 classes, 1-channel" in text and "xray_mobilenet.safetensors (mobilenet_v3_small)" in text
    upload_to(page, "upload a photo", model_files["photo"])
    goto(page, "Predict")
    main = page.locator('[data-testid="stMain"]')
    assert re.search(r"says\s+(normal|pneumonia|covid)", main.inner_text()), main.inner_text()[:300]
    goto(page, "Explain")
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stImage"]', timeout=240_000)
    wait_idle(page, 240_000)
    text = main.inner_text()
    assert "Grad-CAM" in text and "Traceback" not in text and "went wrong" not in text
    assert main.locator('[data-testid="stImage"] img').first.evaluate("i => i.naturalWidth") > 0
    no_overflow(page)
    shot(page, f"user-model-explain-{w}x{h}")
    goto(page, "Architectures compared")  # your model (the sidebar's) side by side with a registry one
    main.get_by_text("Two models on one photo", exact=True).click()
    page.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"]').innerText"
                           ".includes('Correlation of the two maps')", timeout=240_000)
    wait_idle(page, 240_000)
    text = main.inner_text()
    assert re.search(r"A: .*xray", text) and "your own model · 3 classes" in text, text[:600]
    assert "Traceback" not in text and "went wrong" not in text
    assert main.locator('[data-testid="stImage"] img').count() >= 5  # two Grad-CAMs + A, B, A − B
    no_overflow(page)
    main.get_by_text("Correlation of the two maps").scroll_into_view_if_needed()
    shot(page, f"user-model-compare-{w}x{h}")
    if w == 1366:  # every page on the user model, for the closing note
        for title, slug in PAGES:
            goto(page, title)
            body = main.inner_text()
            assert "went wrong" not in body and "Traceback" not in body, title
            no_overflow(page)
            shot(page, f"user-model-page-{slug}-{w}x{h}")
    page.context.close()


def draw(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Mouse strokes on the digit canvas; points are fractions of its width/height."""
    canvas = page.locator('[data-testid="stSidebar"] canvas.upper-canvas').first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert box and box["width"] > 100, box
    for stroke in strokes:
        x0, y0 = stroke[0]
        page.mouse.move(box["x"] + x0 * box["width"], box["y"] + y0 * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=12)
        page.mouse.up()
        page.wait_for_timeout(300)
    wait_idle(page)


@pytest.mark.parametrize("viewport", VIEWPORTS, ids=lambda v: f"{v[0]}x{v[1]}")
def test_draw_a_digit_for_lenet(app_url: str, browser, viewport) -> None:
    w, h = viewport
    page = open_app(browser, app_url, width=w, height=h)
    pick_model(page, "LeNet-5")
    sidebar = page.locator('[data-testid="stSidebar"]')
    page.wait_for_selector('[data-testid="stSidebar"] canvas.upper-canvas', timeout=60_000)
    assert "Draw a digit" in sidebar.inner_text()
    goto(page, "Predict")
    main = page.locator('[data-testid="stMain"]')
    draw(page, [[(0.25, 0.2), (0.75, 0.2), (0.4, 0.85)]])  # a 7
    page.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"]').innerText"
                           ".match(/says\\s+7/)", timeout=120_000)
    assert "your drawing" in sidebar.inner_text()
    no_overflow(page)
    shot(page, f"lenet-draw-7-predict-{w}x{h}")
    # the canvas's own reset, then a 0: every stroke re-predicts
    sidebar.get_by_role("button", name=re.compile("reset|clear", re.I)).first.click()
    page.wait_for_timeout(300)
    import math
    ring = [(0.5 + 0.22 * math.cos(t / 20 * 2 * math.pi), 0.5 + 0.32 * math.sin(t / 20 * 2 * math.pi))
            for t in range(21)]
    draw(page, [ring])
    page.wait_for_function("() => document.querySelector('[data-testid=\"stMain\"]').innerText"
                           ".match(/says\\s+0/)", timeout=120_000)
    goto(page, "Feature maps")
    assert "went wrong" not in main.inner_text()
    shot(page, f"lenet-draw-0-feature-maps-{w}x{h}")
    goto(page, "Explain")
    page.wait_for_selector('[data-testid="stMain"] [data-testid="stImage"]', timeout=120_000)
    wait_idle(page)
    assert "Grad-CAM" in main.inner_text() and "went wrong" not in main.inner_text()
    no_overflow(page)
    shot(page, f"lenet-draw-0-explain-{w}x{h}")
    page.context.close()
