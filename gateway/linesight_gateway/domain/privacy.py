"""Blur faces before a photo is stored, with OpenCV's bundled Haar cascade (works offline)."""

from __future__ import annotations

import functools
import io

import cv2
import numpy as np
from PIL import Image


@functools.cache
def _detector() -> cv2.CascadeClassifier:
    path = cv2.data.haarcascades + "haarcascade_frontalface_default.xml"
    detector = cv2.CascadeClassifier(path)
    if detector.empty():
        raise RuntimeError(f"OpenCV's face cascade is missing at {path}")
    return detector


def blur_faces(image: Image.Image) -> tuple[Image.Image, int]:
    """The image with every detected face blurred beyond recognition, and how many faces there were."""
    rgb = np.asarray(image.convert("RGB"))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    side = max(24, min(gray.shape) // 40)
    faces = _detector().detectMultiScale(gray, scaleFactor=1.1, minNeighbors=5, minSize=(side, side))
    if len(faces) == 0:
        return image, 0
    out = rgb.copy()
    for x, y, w, h in faces:
        # grow the box a little: cascades frame the face tightly, hair and ears identify people too
        pad_w, pad_h = w // 5, h // 4
        x0, y0 = max(0, x - pad_w), max(0, y - pad_h)
        x1, y1 = min(out.shape[1], x + w + pad_w), min(out.shape[0], y + h + pad_h)
        region = out[y0:y1, x0:x1]
        small = cv2.resize(
            region,
            (max(1, region.shape[1] // 16), max(1, region.shape[0] // 16)),
            interpolation=cv2.INTER_AREA,
        )
        out[y0:y1, x0:x1] = cv2.GaussianBlur(
            cv2.resize(small, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_NEAREST), (0, 0), 5
        )
    return Image.fromarray(out), len(faces)


def encode_jpeg(image: Image.Image, quality: int = 92) -> bytes:
    buf = io.BytesIO()
    image.convert("RGB").save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
