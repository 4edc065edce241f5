"""Safe image decoding refuses what would hurt a service and accepts real photos the right way up."""

import io

import pytest
from PIL import Image

from linesight_core.images import ImageRejected, decode_image

LIMITS = {"max_bytes": 5 * 1024 * 1024, "max_pixels": 4_000_000}


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_accepts_jpeg_and_png_as_rgb():
    for fmt in ("JPEG", "PNG", "WEBP"):
        data = encode(Image.new("RGB", (64, 48), (10, 200, 30)), fmt)
        decoded = decode_image(data, **LIMITS)
        assert decoded.format == fmt
        assert (decoded.width, decoded.height) == (64, 48)
        assert decoded.image.mode == "RGB"


def test_exif_orientation_is_applied():
    img = Image.new("RGB", (80, 20), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    decoded = decode_image(encode(img, "JPEG", exif=exif), **LIMITS)
    assert (decoded.width, decoded.height) == (20, 80)


@pytest.mark.parametrize(
    ("data", "status", "needle"),
    [
        (b"", 422, "empty"),
        (b"this is not an image at all", 422, "not an image"),
        (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", 422, "not an image"),
    ],
)
def test_rejects_non_images(data, status, needle):
    with pytest.raises(ImageRejected) as exc:
        decode_image(data, **LIMITS)
    assert exc.value.status == status
    assert needle in exc.value.detail


def test_rejects_files_over_the_byte_limit():
    data = encode(Image.new("RGB", (200, 200)), "PNG")
    with pytest.raises(ImageRejected) as exc:
        decode_image(data, max_bytes=len(data) - 1, max_pixels=10**8)
    assert exc.value.status == 413


def test_rejects_decompression_bomb_before_decoding():
    # 10000 x 10000 single-colour PNG: a few KB on disk, 100 Mpx once decoded.
    bomb = encode(Image.new("1", (10_000, 10_000)), "PNG", optimize=True)
    assert len(bomb) < 100_000
    with pytest.raises(ImageRejected) as exc:
        decode_image(bomb, max_bytes=10**7, max_pixels=40_000_000)
    assert exc.value.status == 413
    assert "pixels" in exc.value.detail


def test_rejects_formats_outside_the_allow_list():
    gif = encode(Image.new("P", (10, 10)), "GIF")
    with pytest.raises(ImageRejected) as exc:
        decode_image(gif, **LIMITS)
    assert exc.value.status == 415
    assert "GIF" in exc.value.detail


def test_rejects_truncated_image():
    data = encode(Image.effect_noise((256, 256), 64).convert("RGB"), "JPEG", quality=95)
    with pytest.raises(ImageRejected) as exc:
        decode_image(data[: len(data) // 3], **LIMITS)
    assert exc.value.status == 422
    assert "damaged" in exc.value.detail


def test_accepts_one_pixel_image():
    decoded = decode_image(encode(Image.new("RGB", (1, 1)), "PNG"), **LIMITS)
    assert (decoded.width, decoded.height) == (1, 1)


def test_rejects_images_over_the_configured_pixel_limit():
    data = encode(Image.new("L", (3000, 2000)), "PNG")  # 6 Mpx: fine for Pillow, over our limit
    with pytest.raises(ImageRejected) as exc:
        decode_image(data, max_bytes=10**7, max_pixels=5_000_000)
    assert exc.value.status == 413
    assert "3000x2000" in exc.value.detail
