"""Label photos made readable for Tesseract: grayscale, contrast, barcodes blanked (their bars read as
rows of `I` and `M` and derail the page layout), small text scaled up, optional deskew; and the way back
to upload coordinates. Orientation is left to Tesseract's own detection inside the reading pass."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageOps

# Median character height (cap height, about 1.4x the x-height) Tesseract reads well; smaller text is
# scaled up. Tesseract scales every text line to its own size anyway: past this, more pixels only cost time.
TARGET_TEXT_HEIGHT_PX = 22
MAX_UPSCALE = 2.5
MAX_DESKEW_DEGREES = 10.0
# A bar: a dark stroke at least this many character heights long, this many times longer than wide, and
# thinner than this share of a character height (a run of glyphs that blur or serifs join is as tall
# as a character: `4080008` in a serif font is one component five times wider than high; the widest
# bars of a barcode, four modules, are thinner than that).
BAR_MIN_LENGTH = 2.5
BAR_MIN_ASPECT = 5.0
BAR_MAX_THICKNESS = 0.8
BARCODE_MARGIN_PX = 6


@dataclass(frozen=True)
class Prepared:
    image: Image.Image  # grayscale, barcodes blanked, scaled (and turned); what Tesseract reads
    scale: float
    deskew_degrees: float
    text_height: float | None  # median character height on the upload, None: too few characters
    rotation: int = 0  # degrees clockwise the scaled image was turned
    scaled_size: tuple[int, int] = (0, 0)  # width, height before turning

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

    def turned(self, rotation: int) -> Prepared:
        """The same page turned `rotation` degrees clockwise from how it was uploaded."""
        rotation %= 360
        base = self.image.rotate(self.rotation, expand=True) if self.rotation else self.image
        image = base.rotate(-rotation, expand=True) if rotation else base
        return replace(self, image=image, rotation=rotation)


def _components(gray: np.ndarray) -> np.ndarray:
    """Width, height and area of every dark connected component (Otsu threshold)."""
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    return stats[1:count]


def text_height(gray: np.ndarray, stats: np.ndarray | None = None) -> float | None:
    """Median size of dark components shaped like characters; None when there are too few. The long
    side counts, so text turned by 90 degrees measures the same."""
    stats = _components(gray) if stats is None else stats
    w, h, area = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT], stats[:, cv2.CC_STAT_AREA]
    long_side, short_side = np.maximum(w, h), np.minimum(w, h)
    chars = (
        (long_side >= 6)
        & (long_side <= min(gray.shape) // 4)
        & (long_side <= 3 * np.maximum(short_side, 1))
        & (area >= 12)
    )
    return float(np.median(long_side[chars])) if int(chars.sum()) >= 5 else None


def blank_bars(image: Image.Image, stats: np.ndarray, height: float | None) -> int:
    """Paint long thin strokes (the bars of a barcode zxing could not read, rules, frames) white; the
    number painted."""
    if height is None:
        return 0
    x, y = stats[:, cv2.CC_STAT_LEFT], stats[:, cv2.CC_STAT_TOP]
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    long_side, short_side = np.maximum(w, h), np.maximum(np.minimum(w, h), 1)
    bars = (
        (long_side >= BAR_MIN_LENGTH * height)
        & (long_side >= BAR_MIN_ASPECT * short_side)
        & (short_side <= BAR_MAX_THICKNESS * height)
    )
    draw = ImageDraw.Draw(image)
    for i in np.flatnonzero(bars):
        draw.rectangle((int(x[i]), int(y[i]), int(x[i] + w[i]), int(y[i] + h[i])), fill=255)
    return int(bars.sum())


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


def prepare(
    image: Image.Image,
    *,
    deskew: bool,
    barcode_boxes: Iterable[tuple[int, int, int, int]] = (),
    max_pixels: int | None = None,
) -> Prepared:
    """`barcode_boxes`: where zxing-cpp found barcodes (upload pixels); they are blanked before reading.
    `max_pixels`: the prepared image is scaled so it holds at most this many (upscaling small text
    multiplies the pixels by up to 6, and Tesseract's time and memory grow with them)."""
    gray = ImageOps.autocontrast(ImageOps.grayscale(image), cutoff=1)
    draw = ImageDraw.Draw(gray)
    m = BARCODE_MARGIN_PX
    for x1, y1, x2, y2 in barcode_boxes:
        draw.rectangle((x1 - m, y1 - m, x2 + m, y2 + m), fill=255)
    pixels = np.asarray(gray)
    stats = _components(pixels)
    height = text_height(pixels, stats)
    blank_bars(gray, stats, height)
    scale = 1.0
    if height is not None and height < TARGET_TEXT_HEIGHT_PX:
        scale = min(MAX_UPSCALE, TARGET_TEXT_HEIGHT_PX / height)
    if scale <= 1.1:
        scale = 1.0
    size = (round(gray.width * scale), round(gray.height * scale))
    if max_pixels is not None and size[0] * size[1] > max_pixels:
        scale = math.sqrt(max_pixels / (gray.width * gray.height))
        size = (max(1, math.floor(gray.width * scale)), max(1, math.floor(gray.height * scale)))
    if scale != 1.0:
        gray = gray.resize(size, Image.Resampling.BICUBIC if scale > 1 else Image.Resampling.LANCZOS)
    skew = 0.0
    if deskew:
        skew = deskew_angle(np.asarray(gray))
        if abs(skew) >= 0.5:
            gray = gray.rotate(skew, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=255)
        else:
            skew = 0.0
    return Prepared(gray, scale, skew, height, 0, gray.size)
