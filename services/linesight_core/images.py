"""Safe image decoding: byte limit, pixel limit checked before decoding (decompression bombs),
a format allow-list by content (not file name), a real full decode, and EXIF orientation applied."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

from linesight_core.errors import Problem

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF"})
PROBLEM_TYPE = "https://linesight.dev/problems/invalid-image"


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, EXIF orientation applied
    format: str
    width: int
    height: int
    size_bytes: int


class ImageRejected(Problem):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail, title="Image rejected", type_=PROBLEM_TYPE)


def decode_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    allowed_formats: frozenset[str] = ALLOWED_FORMATS,
) -> DecodedImage:
    if not data:
        raise ImageRejected(422, "The image is empty (0 bytes).")
    if len(data) > max_bytes:
        raise ImageRejected(413, f"The image is {len(data)} bytes; the limit is {max_bytes} bytes.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data))
            fmt = (probe.format or "").upper()
            width, height = probe.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(
            413, f"The image has far more pixels than the limit of {max_pixels} (a decompression bomb?)."
        ) from None
    except Exception as exc:  # noqa: BLE001 - whatever a decoder plugin raises, the bytes are not an image we read
        raise ImageRejected(
            422,
            f"The file is not an image that can be read ({type(exc).__name__}). "
            f"Accepted formats: {', '.join(sorted(allowed_formats))}.",
        ) from None
    if fmt not in allowed_formats:
        raise ImageRejected(
            415,
            f"Image format {fmt or 'unknown'} is not accepted. Accepted: {', '.join(sorted(allowed_formats))}.",
        )
    if width < 1 or height < 1:
        raise ImageRejected(422, f"The image has no pixels ({width}x{height}).")
    if width * height > max_pixels:
        raise ImageRejected(
            413, f"The image is {width}x{height} = {width * height} pixels; the limit is {max_pixels} pixels."
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe.load()
            # In place and only when needed: a copy of a 12 Mpx photo costs more than decoding it.
            ImageOps.exif_transpose(probe, in_place=True)
            image = probe if probe.mode == "RGB" else probe.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRejected(413, f"The image decodes to more than {max_pixels} pixels.") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageRejected(422, f"The image data is damaged and cannot be decoded ({exc}).") from None
    return DecodedImage(image=image, format=fmt, width=image.width, height=image.height, size_bytes=len(data))


MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"BM", "image/bmp"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
)


def sniff_image_type(data: bytes) -> str:
    """The media type by the first bytes, for storing a photo before its full check has finished (the
    check decides whether it is kept); application/octet-stream when it is none of the accepted formats."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, media in MAGIC:
        if data.startswith(magic):
            return media
    return "application/octet-stream"


def to_bgr_array(image: Image.Image):  # type: ignore[no-untyped-def]
    """RGB PIL image to a BGR uint8 numpy array (OpenCV's layout)."""
    import numpy as np

    arr = np.asarray(image.convert("RGB"))
    return arr[:, :, ::-1].copy()
