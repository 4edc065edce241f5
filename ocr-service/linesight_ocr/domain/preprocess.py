"""Label photos made readable for Tesseract: grayscale, contrast, small text scaled up, the page turned
upright by Tesseract's orientation detection, optional deskew; and the way back to upload coordinates."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pytesseract
from PIL import Image, ImageOps

# Tesseract reads best with x-heights of about 20-30 px; labels photographed from afar have less.
TARGET_TEXT_HEIGHT_PX = 28
MAX_UPSCALE = 3.0
MAX_DESKEW_DEGREES = 10.0


@dataclass(frozen=True)
class Prepared:
    image: Image.Image  # grayscale, upright, scaled; what Tesseract reads
    scale: float
    rotation: int  # degrees clockwise applied to the (scaled) image
    orientation_confidence: float | None  # None: orientation detection had too little text
    deskew_degrees: float
    scaled_size: tuple[int, int]  # width, height before rotation

    def to_source(self, x1: float, y1: float, x2: float, y2: float) -> tuple[int, int, int, int]:
        """A box on the prepared image back in the uploaded image's pixels (deskew is not undone)."""
        w, h = self.scaled_size
        points = []
        for x, y in ((x1, y1), (x2, y2)):
            if self.rotation == 90:
                x, y = y, h - x
            elif self.rotation == 180:
                x, y = w - x, h - y
            elif self.rotation == 270:
                x, y = w - y, x
            points.append((x / self.scale, y / self.scale))
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return round(min(xs)), round(min(ys)), round(max(xs)), round(max(ys))


def text_height(gray: np.ndarray) -> float | None:
    """Median height of dark connected components the size of characters; None when there are none."""
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    heights = [
        stats[i, cv2.CC_STAT_HEIGHT]
        for i in range(1, count)
        if 4 <= stats[i, cv2.CC_STAT_HEIGHT] <= gray.shape[0] // 4
        and stats[i, cv2.CC_STAT_WIDTH] <= 3 * stats[i, cv2.CC_STAT_HEIGHT]
        and stats[i, cv2.CC_STAT_AREA] >= 8
    ]
    return float(np.median(heights)) if len(heights) >= 5 else None


def detect_orientation(image: Image.Image, lang_timeout: float) -> tuple[int, float | None]:
    """Tesseract OSD (`--psm 0`): degrees clockwise to turn the image upright, and its confidence."""
    try:
        osd = pytesseract.image_to_osd(
            image,
            config="-c min_characters_to_try=10",
            output_type=pytesseract.Output.DICT,
            timeout=lang_timeout,
        )
    except pytesseract.TesseractError:
        return 0, None  # too few characters to tell: read it as it is
    return int(osd["rotate"]) % 360, float(osd["orientation_conf"])


def deskew_angle(gray: np.ndarray) -> float:
    """Small skew of the text lines in degrees (counter-clockwise positive), from the dark pixels' box."""
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    coords = np.column_stack(np.where(binary > 0)).astype(np.float32)
    if len(coords) < 50:
        return 0.0
    angle = cv2.minAreaRect(coords[:, ::-1])[-1]
    if angle > 45:
        angle -= 90
    return float(-angle) if abs(angle) <= MAX_DESKEW_DEGREES else 0.0


def prepare(image: Image.Image, *, deskew: bool, timeout: float, rotation: int | None = None) -> Prepared:
    """`rotation` given: turn by it instead of asking orientation detection."""
    gray = ImageOps.autocontrast(ImageOps.grayscale(image), cutoff=1)
    height = text_height(np.asarray(gray))
    scale = 1.0
    if height is not None and height < TARGET_TEXT_HEIGHT_PX:
        scale = min(MAX_UPSCALE, TARGET_TEXT_HEIGHT_PX / height)
    if scale > 1.05:
        gray = gray.resize((round(gray.width * scale), round(gray.height * scale)), Image.Resampling.LANCZOS)
    else:
        scale = 1.0
    scaled_size = gray.size
    confidence: float | None = 1.0
    if rotation is None:
        rotation, confidence = detect_orientation(gray, timeout)
    if rotation:
        gray = gray.rotate(-rotation, expand=True)
    skew = 0.0
    if deskew:
        skew = deskew_angle(np.asarray(gray))
        if abs(skew) >= 0.5:
            gray = gray.rotate(skew, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
        else:
            skew = 0.0
    return Prepared(gray, scale, rotation, confidence, skew, scaled_size)
