"""Blur faces and people before a photo is stored: faces found by CenterFace (see face_detector),
people by the gateway's person detector (see people); each blurred on the full photo."""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence

import cv2
import numpy as np
from PIL import Image

from linesight_gateway.domain.face_detector import face_detector

Region = tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels of the photo
# A blurred region keeps this many colour cells across its longer side, whatever the photo's resolution:
# a fixed divisor would leave a face 1000 px wide in a 12 MP photo as a recognisable 60-cell mosaic.
CELLS = 6
# How much each box grows on every side, as a share of its width and height: face detectors frame the
# face from brows to chin, while hair, ears and the jaw line identify people too; person boxes are whole
# already, a margin covers what a box cut short.
FACE_GROW = (0.4, 0.3)
PERSON_GROW = (0.05, 0.05)


def blur_regions(rgb: np.ndarray, regions: Iterable[tuple[Region, tuple[float, float]]]) -> np.ndarray:
    """A copy of `rgb` with each region, grown by its (width, height) share, blurred beyond recognition."""
    out = rgb.copy()
    height, width = out.shape[:2]
    for (bx1, by1, bx2, by2), (grow_w, grow_h) in regions:
        pad_w, pad_h = round((bx2 - bx1) * grow_w), round((by2 - by1) * grow_h)
        x0, y0 = max(0, bx1 - pad_w), max(0, by1 - pad_h)
        x1, y1 = min(width, bx2 + pad_w), min(height, by2 + pad_h)
        if x1 <= x0 or y1 <= y0:
            continue
        region = out[y0:y1, x0:x1]
        cell = max(region.shape[:2]) / CELLS
        cells = (max(1, round(region.shape[1] / cell)), max(1, round(region.shape[0] / cell)))
        # average into a few cells, then spread them smoothly back: no edge of the face survives
        small = cv2.resize(region, cells, interpolation=cv2.INTER_AREA)
        out[y0:y1, x0:x1] = cv2.resize(
            small, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_LINEAR
        )
    return out


def blur_photo(
    image: Image.Image, *, faces: bool, people: Sequence[Region] = ()
) -> tuple[Image.Image, int, int]:
    """The image with every detected face (when `faces`) and every given person region blurred, and how
    many faces and people that was. Faces are looked for on the photo as taken, before people are blurred."""
    rgb = np.asarray(image.convert("RGB"))
    found = face_detector().detect(rgb) if faces else []
    regions = [((f.x1, f.y1, f.x2, f.y2), FACE_GROW) for f in found]
    regions += [(box, PERSON_GROW) for box in people]
    if not regions:
        return image, 0, 0
    return Image.fromarray(blur_regions(rgb, regions)), len(found), len(people)


def blur_faces(image: Image.Image) -> tuple[Image.Image, int]:
    """The image with every detected face blurred beyond recognition, and how many faces there were."""
    blurred, faces, _ = blur_photo(image, faces=True)
    return blurred, faces


def encode_jpeg(image: Image.Image, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
