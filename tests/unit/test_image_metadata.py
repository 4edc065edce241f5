"""Photo metadata (EXIF with GPS, XMP, comments) is removed before a photo is stored, in every accepted
format; the pixels stay the same and the orientation is kept, so the photo shows the same way up."""

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from linesight_core.image_metadata import strip_metadata
from linesight_core.images import ImageRejected

GPS_IFD = 0x8825
XMP = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:Description GPSLatitude="48,8.5N"/></x:xmpmeta>'


def phone_exif(orientation: int = 6) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "SpyCam"
    exif[GPS_IFD] = {1: "N", 2: (48.0, 8.0, 30.0), 3: "E", 4: (11.0, 34.0, 5.0)}
    return exif.tobytes()


def photo() -> Image.Image:
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 255, (48, 80, 3), dtype=np.uint8))


def encode(fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    photo().save(buf, format=fmt, exif=phone_exif(), **kw)
    return buf.getvalue()


def check_clean(out: bytes, original: bytes, *, same_pixels: bool) -> None:
    with Image.open(io.BytesIO(out)) as img:
        exif = img.getexif()
        assert not exif.get_ifd(GPS_IFD)
        assert 0x010F not in exif  # the camera (TIFF keeps its own structure tags, nothing else)
        if img.format != "TIFF":
            assert set(exif) <= {0x0112}
        upright = ImageOps.exif_transpose(img)
        with Image.open(io.BytesIO(original)) as ref:
            assert upright.size == ImageOps.exif_transpose(ref).size  # boxes still match
            if same_pixels:
                assert np.array_equal(np.asarray(img.convert("RGB")), np.asarray(ref.convert("RGB")))
    for secret in (b"SpyCam", b"GPSLatitude", b"a comment"):
        assert secret not in out


@pytest.mark.parametrize("progressive", [False, True])
def test_jpeg_loses_its_metadata_but_not_a_pixel(progressive):
    data = encode("JPEG", quality=90, progressive=progressive, comment=b"a comment", xmp=XMP)
    out = strip_metadata(data, max_pixels=10_000)
    check_clean(out, data, same_pixels=True)
    assert Image.open(io.BytesIO(out)).getexif()[0x0112] == 6


def test_jpeg_trailer_after_the_image_is_dropped():
    data = encode("JPEG") + b"SpyCam preview image appended by the phone"
    out = strip_metadata(data, max_pixels=10_000)
    check_clean(out, data, same_pixels=True)


def test_png_webp_tiff_lose_their_metadata():
    for fmt, lossless in (("PNG", True), ("WEBP", False), ("TIFF", False)):
        data = encode(fmt)
        out = strip_metadata(data, max_pixels=10_000)
        check_clean(out, data, same_pixels=lossless)
        assert Image.open(io.BytesIO(out)).format == fmt


def test_a_jpeg_with_junk_between_segments_is_re_encoded_without_metadata():
    data = encode("JPEG")
    assert data[2:4] == b"\xff\xe0"  # JFIF first, 18 bytes: junk after it, which Pillow skips
    damaged = data[:20] + b"\x00junk" + data[20:]
    out = strip_metadata(damaged, max_pixels=10_000)
    check_clean(out, data, same_pixels=False)


def test_formats_it_decodes_keep_the_pixel_limit():
    with pytest.raises(ImageRejected) as err:
        strip_metadata(encode("WEBP"), max_pixels=100)
    assert err.value.status == 413


def test_a_photo_that_breaks_off_is_refused_not_a_server_error():
    with pytest.raises(ImageRejected) as err:
        data = encode("JPEG")
        strip_metadata(data[: len(data) * 3 // 4], max_pixels=10_000)  # cut inside the scan data
    assert err.value.status == 422 and "damaged" in err.value.detail
