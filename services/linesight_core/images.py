"""Safe image decoding: byte limit, pixel limit checked before decoding (decompression bombs),
a format allow-list by content (not file name), a real decode, and EXIF orientation applied.

A caller that will shrink the photo anyway (a model input) may pass `fit`: a JPEG is then decoded by
DCT-domain down-scaling (1/2, 1/4 or 1/8, far cheaper than a full decode) to no less than the size the
caller resizes to."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageOps

from linesight_core.errors import Problem

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "BMP", "TIFF"})
PROBLEM_TYPE = "https://linesight.dev/problems/invalid-image"
JPEG_REDUCTIONS = (8, 4, 2)  # the scales libjpeg decodes to in the DCT domain
_ORIENTATION = 0x0112
_TRANSPOSED = frozenset({5, 6, 7, 8})  # EXIF orientations that swap width and height


@dataclass(frozen=True)
class DecodedImage:
    image: Image.Image  # RGB, EXIF orientation applied; 1/reduction of the photo's size
    format: str
    width: int  # the photo's own size (EXIF orientation applied), whatever the reduction
    height: int
    size_bytes: int
    reduction: int = 1


def dct_reduction(width: int, height: int, needed: tuple[int, int]) -> int:
    """The largest JPEG DCT scale (8, 4, 2, else 1) whose decoded size is still at least `needed` (w, h)."""
    for scale in JPEG_REDUCTIONS:
        if -(-width // scale) >= needed[0] and -(-height // scale) >= needed[1]:
            return scale
    return 1


class ImageRejected(Problem):
    def __init__(self, status: int, detail: str) -> None:
        super().__init__(status, detail, title="Image rejected", type_=PROBLEM_TYPE)


def decode_image(
    data: bytes,
    *,
    max_bytes: int,
    max_pixels: int,
    allowed_formats: frozenset[str] = ALLOWED_FORMATS,
    fit: Callable[[int, int], tuple[int, int]] | None = None,
) -> DecodedImage:
    """`fit(width, height)`: the size (w, h) the caller will resize this photo to; a JPEG is then decoded
    reduced to no less than that. The limits are checked on the photo's own size first, from the header."""
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
    reduction = 1
    ow, oh = width, height
    if fit is not None and fmt == "JPEG":
        try:
            transposed = probe.getexif().get(_ORIENTATION) in _TRANSPOSED
        except Exception:  # noqa: BLE001 - a damaged EXIF block: exif_transpose below ignores it too
            transposed = False
        ow, oh = (height, width) if transposed else (width, height)
        tw, th = fit(ow, oh)
        reduction = dct_reduction(width, height, (th, tw) if transposed else (tw, th))
        if reduction > 1:
            # draft() picks the largest scale whose size is at least the one asked for: ask for exactly
            # 1/reduction (floored, so the integer division inside draft() lands on it).
            probe.draft("RGB", (width // reduction, height // reduction))
            reduction = round(width / probe.size[0])
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
    if reduction == 1:
        ow, oh = image.width, image.height
    return DecodedImage(
        image=image, format=fmt, width=ow, height=oh, size_bytes=len(data), reduction=reduction
    )


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
