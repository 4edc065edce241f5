"""Photo metadata removed before a photo is stored: EXIF (GPS, camera serial, time), XMP, IPTC and
comments. JPEG and PNG are rewritten without their metadata segments, so the pixels stay bit for bit;
other formats are re-encoded. The EXIF orientation is the one tag kept (alone), so the stored photo
is shown the same way up and boxes found on it still match."""

from __future__ import annotations

import io
import re
import struct
import zlib

from PIL import Image, ImageOps

from linesight_core.images import ImageRejected

ORIENTATION_TAG = 0x0112
JPEG_SOI = b"\xff\xd8"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG segments kept: JFIF (APP0), Adobe colour transform (APP14), and APP2 only for an ICC profile.
_KEPT_APP = {0xE0, 0xEE}
# PNG chunks that carry metadata rather than pixels or colour.
_PNG_METADATA = {b"eXIf", b"tEXt", b"zTXt", b"iTXt", b"tIME"}
# The end of a scan: a 0xFF followed by a marker. Searched in C: a camera photo's scan holds a stuffed
# 0xFF every few hundred bytes, too many to step through one by one in Python.
_SCAN_END = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])")


class _Unparsable(ValueError):
    pass


def _orientation(data: bytes) -> int:
    try:
        with Image.open(io.BytesIO(data)) as img:
            value = img.getexif().get(ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - an unreadable EXIF block means no orientation to keep
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _orientation_exif(orientation: int) -> bytes:
    """An EXIF block holding only the orientation, with the `Exif\\0\\0` header."""
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()


def _jpeg_segment_kept(marker: int, payload: bytes) -> bool:
    if marker == 0xFE:  # comment
        return False
    if 0xE0 <= marker <= 0xEF:
        return marker in _KEPT_APP or (marker == 0xE2 and payload.startswith(b"ICC_PROFILE\x00"))
    return True


def _strip_jpeg(data: bytes, orientation: int) -> bytes:
    out = [JPEG_SOI]
    pos = 2
    inserted = orientation == 1
    n = len(data)
    in_scan = False
    while pos < n:
        if in_scan:
            # Entropy-coded data runs to the first marker that is not a stuffed 0xFF (FF00), a restart
            # marker (FFD0-D7) or a fill byte, copied in one piece.
            end_of_scan = _SCAN_END.search(data, pos)
            if end_of_scan is None:
                raise _Unparsable("the scan data has no end")
            out.append(data[pos : end_of_scan.start()])
            pos = end_of_scan.start()
            in_scan = False
            continue
        if data[pos] != 0xFF:
            raise _Unparsable("a segment does not start with a marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xD9:  # end of image: whatever follows (trailers, preview images) is dropped
            out.append(b"\xff\xd9")
            return b"".join(out)
        if pos + 4 > n:
            raise _Unparsable("a segment is cut short")
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        end = pos + 2 + length
        if length < 2 or end > n:
            raise _Unparsable("a segment runs past the end")
        payload = data[pos + 4 : end]
        if not inserted and marker != 0xE0:
            exif = _orientation_exif(orientation)
            out.append(b"\xff\xe1" + struct.pack(">H", len(exif) + 2) + exif)
            inserted = True
        if _jpeg_segment_kept(marker, payload):
            out.append(data[pos:end])
        pos = end
        in_scan = marker == 0xDA
    raise _Unparsable("no end-of-image marker")


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _strip_png(data: bytes, orientation: int) -> bytes:
    out = [PNG_SIGNATURE]
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 8 > len(data):
            raise _Unparsable("a chunk is cut short")
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise _Unparsable("a chunk runs past the end")
        if kind == b"IDAT" and orientation != 1:
            out.append(_png_chunk(b"eXIf", _orientation_exif(orientation)[6:]))
            orientation = 1
        if kind not in _PNG_METADATA:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            return b"".join(out)
    raise _Unparsable("no IEND chunk")


def _reencode(data: bytes, max_pixels: int) -> bytes:
    """Pixels only, upright, in the photo's own format (WEBP, TIFF, a JPEG that cannot be parsed)."""
    try:
        img = Image.open(io.BytesIO(data))
    except Exception:  # noqa: BLE001 - whatever a decoder plugin raises, it is not an image we read
        raise ImageRejected(422, "The file is not an image that can be read.") from None
    with img:
        if img.width * img.height > max_pixels:
            raise ImageRejected(
                413, f"The image is {img.width}x{img.height} pixels; the limit is {max_pixels} pixels."
            )
        fmt = (img.format or "PNG").upper()
        buf = io.BytesIO()
        try:
            upright = ImageOps.exif_transpose(img)
            if fmt == "JPEG":
                upright.convert("RGB").save(buf, format="JPEG", quality=95)
            elif fmt == "WEBP":
                upright.save(buf, format="WEBP", quality=95)
            elif fmt == "TIFF":
                upright.save(buf, format="TIFF", compression="tiff_deflate")
            else:
                upright.save(buf, format="PNG")
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageRejected(422, f"The image data is damaged and cannot be decoded ({exc}).") from None
    return buf.getvalue()


def strip_metadata(data: bytes, *, max_pixels: int) -> bytes:
    """The photo without EXIF/XMP/IPTC/comments (the orientation excepted). JPEG and PNG are not
    decoded; the other formats are, within `max_pixels`."""
    if data.startswith(b"BM"):
        return data  # BMP carries no metadata of this kind
    orientation = _orientation(data)
    try:
        if data.startswith(JPEG_SOI):
            return _strip_jpeg(data, orientation)
        if data.startswith(PNG_SIGNATURE):
            return _strip_png(data, orientation)
    except _Unparsable:
        pass
    return _reencode(data, max_pixels)
