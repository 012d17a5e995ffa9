"""The image loader against awkward and hostile files, generated here."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import photo_bytes
from vizcore.core.images import MAX_SIDE, ImageError, load_image


def encode(img: Image.Image, fmt: str, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_empty_file_refused() -> None:
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


def test_text_named_png_refused() -> None:
    with pytest.raises(ImageError, match="not an image we can read"):
        load_image(b"hello, I am a text file pretending to be a PNG")


def test_truncated_jpeg_refused() -> None:
    data = photo_bytes("coffee", "JPEG")
    with pytest.raises(ImageError, match="damaged or truncated"):
        load_image(data[: len(data) // 2])


def test_png_bomb_refused_before_decoding() -> None:
    # A 1-bit 20000×20000 PNG compresses to a few kB but would decode to 400 megapixels.
    bomb = encode(Image.new("1", (20000, 20000)), "PNG", optimize=True)
    assert len(bomb) < 200_000
    with pytest.raises(ImageError, match=r"megapixels|too large"):
        load_image(bomb)


def test_unknown_format_refused() -> None:
    data = encode(Image.new("RGB", (64, 64)), "PCX")
    with pytest.raises(ImageError, match="PNG, JPEG"):
        load_image(data)


def test_cmyk_jpeg_converted() -> None:
    img = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # pure red in CMYK
    out = load_image(encode(img, "JPEG", quality=95)).image
    assert out.mode == "RGB" and out.size == (40, 30)
    r, g, b = np.asarray(out).reshape(-1, 3).mean(0)
    assert r > 200 and g < 60 and b < 60


def test_16bit_png_rescaled() -> None:
    arr = np.linspace(1000, 3000, 32 * 32).reshape(32, 32).astype(np.uint16)
    out = np.asarray(load_image(encode(Image.fromarray(arr), "PNG")).image)
    assert out.shape == (32, 32, 3)
    assert out.min() == 0 and out.max() == 255  # full range used, not clipped to white


def test_palette_with_transparency_onto_white() -> None:
    img = Image.new("P", (32, 32), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    img.paste(1, (0, 0, 16, 32))
    data = encode(img, "PNG", transparency=0)
    out = np.asarray(load_image(data).image)
    assert (out[:, 20:] == 255).all()  # transparent black → white
    assert (out[:, :10] == [255, 0, 0]).all()


def test_la_and_rgba_onto_white() -> None:
    la = Image.new("LA", (20, 20), (0, 0))  # fully transparent black
    assert (np.asarray(load_image(encode(la, "PNG")).image) == 255).all()
    rgba = Image.new("RGBA", (20, 20), (0, 0, 255, 128))  # half-transparent blue
    px = np.asarray(load_image(encode(rgba, "PNG")).image)[0, 0]
    assert abs(int(px[0]) - 127) <= 2 and px[2] == 255


def test_animated_gif_first_frame_with_notice() -> None:
    frames = [Image.new("RGB", (32, 32), c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:])
    out = load_image(buf.getvalue())
    assert any("first frame" in n for n in out.notices)
    assert tuple(np.asarray(out.image)[0, 0]) == (255, 0, 0)


def test_exif_rotation_applied() -> None:
    img = Image.new("RGB", (60, 20), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    out = load_image(encode(img, "JPEG", exif=exif.tobytes()))
    assert out.size == (20, 60)


def test_tiny_image_refused() -> None:
    with pytest.raises(ImageError, match="only 1×1"):
        load_image(encode(Image.new("RGB", (1, 1)), "PNG"))


def test_4000x3_refused_with_reason() -> None:
    with pytest.raises(ImageError, match="4000×3"):
        load_image(encode(Image.new("RGB", (4000, 3)), "PNG"))


def test_extreme_aspect_refused() -> None:
    with pytest.raises(ImageError, match="aspect ratio of 20:1"):
        load_image(encode(Image.new("RGB", (2000, 100)), "PNG"))


def test_big_photo_downscaled_with_notice() -> None:
    out = load_image(encode(Image.new("RGB", (3000, 2000), (1, 2, 3)), "PNG"))
    assert max(out.size) == MAX_SIDE and out.original_size == (3000, 2000)
    assert any("Downscaled" in n for n in out.notices)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF"])
def test_every_supported_format(fmt: str) -> None:
    out = load_image(photo_bytes("chelsea", fmt))
    assert out.image.mode == "RGB" and out.size == (451, 300) and out.format == fmt


def test_digest_is_content_hash() -> None:
    a, b = photo_bytes("chelsea"), photo_bytes("coffee")
    assert load_image(a).digest == load_image(a).digest != load_image(b).digest
