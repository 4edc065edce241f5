"""Tesseract's own read of the text lines RapidOCR's detector found: each line's rectified, upright crop
read as one line (`--psm 7`). Tesseract's page layout analysis is what fails on label photos (tilt,
perspective, glare, columns); its recogniser on a clean line crop reads the true value verbatim about
twice as often as its page pass. The recognition stays Tesseract's, independent of RapidOCR's: only
where to look is shared."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np
import tesserocr
from PIL import Image, ImageOps

from linesight_ocr.domain import engine
from linesight_ocr.domain.rapid import RapidLine, Span

# Height a line crop is scaled to (the detector's box holds the text with a margin of about a third):
# on the tuning set, Tesseract reads crops of 32 px best among 24-56 px, and fastest but for 28.
LINE_HEIGHT_PX = 32
PAD_PX = 10


@dataclass(frozen=True)
class LineRead:
    spans: list[Span]  # Tesseract's words of the line, with where each lies along it
    image: Image.Image | None = field(default=None, compare=False, repr=False)  # the image it read

    def crop(self, start: float, end: float) -> Image.Image | None:
        """The stretch of the line image from `start` to `end` (0..1 along the line), margin included."""
        if self.image is None:
            return None
        width = self.image.width - 2 * PAD_PX
        x1 = max(0, round(PAD_PX + start * width) - PAD_PX // 2)
        x2 = min(self.image.width, round(PAD_PX + end * width) + PAD_PX // 2)
        return self.image.crop((x1, PAD_PX // 2, x2, self.image.height - PAD_PX // 2)) if x2 > x1 else None


def line_image(crop: np.ndarray) -> Image.Image:
    """A line crop (BGR) as Tesseract reads it best: grey, at LINE_HEIGHT_PX, contrast stretched, on a
    white margin."""
    gray = Image.fromarray(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop)
    scale = LINE_HEIGHT_PX / max(1, gray.height)
    gray = gray.resize((max(1, round(gray.width * scale)), LINE_HEIGHT_PX), Image.Resampling.BICUBIC)
    return ImageOps.expand(ImageOps.autocontrast(gray, cutoff=1), PAD_PX, fill=255)


def _spans(api: tesserocr.PyTessBaseAPI, width: int) -> list[Span]:
    """The words of the line just read, each with where it starts and ends along the crop (0..1)."""
    out: list[Span] = []
    for text, box, confidence in engine.words(api):
        a = min(max((box[0] - PAD_PX) / width, 0.0), 1.0)
        b = min(max((box[2] - PAD_PX) / width, a), 1.0)
        out.append((text, confidence / 100.0, a, b))
    return out


def read_lines(
    lines: Sequence[RapidLine], languages: Sequence[str], timeout: Callable[[], float]
) -> list[LineRead]:
    """Per line, Tesseract's words of its crop (none where the line has no crop or reads as nothing).
    `timeout()` gives the time left for the next line (and raises once the read's deadline passed)."""
    out: list[LineRead] = []
    with engine.pool().engine("+".join(languages), engine.PSM.SINGLE_LINE) as api:
        for line in lines:
            if line.crop is None or line.crop.size == 0:
                out.append(LineRead([]))
                continue
            image = line_image(line.crop)
            engine.recognise(api, image, timeout())
            out.append(LineRead(_spans(api, max(1, image.width - 2 * PAD_PX)), image))
    return out
