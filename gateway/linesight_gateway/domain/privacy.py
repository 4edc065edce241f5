"""Blur faces before a photo is stored: found by CenterFace (see face_detector), blurred on the full photo."""

from __future__ import annotations

import io
from collections.abc import Iterable

import cv2
import numpy as np
from PIL import Image

from linesight_gateway.domain.face_detector import FaceBox, face_detector

# A blurred face keeps this many colour cells across its longer side, whatever the photo's resolution:
# a fixed divisor would leave a face 1000 px wide in a 12 MP photo as a recognisable 60-cell mosaic.
CELLS = 6


def blur_regions(rgb: np.ndarray, boxes: Iterable[FaceBox]) -> np.ndarray:
    """A copy of `rgb` with each box, grown to take in hair, ears and chin, blurred beyond recognition."""
    out = rgb.copy()
    height, width = out.shape[:2]
    for box in boxes:
        w, h = box.x2 - box.x1, box.y2 - box.y1
        # detectors frame the face from brows to chin; hair, ears and the jaw line identify people too
        pad_w, pad_h = round(w * 0.4), round(h * 0.3)
        x0, y0 = max(0, box.x1 - pad_w), max(0, box.y1 - pad_h)
        x1, y1 = min(width, box.x2 + pad_w), min(height, box.y2 + pad_h)
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


def blur_faces(image: Image.Image) -> tuple[Image.Image, int]:
    """The image with every detected face blurred beyond recognition, and how many faces there were."""
    rgb = np.asarray(image.convert("RGB"))
    faces = face_detector().detect(rgb)
    if not faces:
        return image, 0
    return Image.fromarray(blur_regions(rgb, faces)), len(faces)


def encode_jpeg(image: Image.Image, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
