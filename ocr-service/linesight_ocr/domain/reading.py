"""One Tesseract pass (pytesseract `image_to_data`) over a prepared label: the words, their boxes and
confidences; and the barcodes zxing-cpp finds on the original image."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytesseract
import zxingcpp
from PIL import Image

from linesight_ocr.domain.preprocess import Prepared

# Labels are scattered key/value pairs, not paragraphs: sparse-text segmentation finds more of them.
TESSERACT_CONFIG = "--psm 11"
LABEL_BARCODE_FORMATS = (
    zxingcpp.BarcodeFormat.EAN13,
    zxingcpp.BarcodeFormat.EAN8,
    zxingcpp.BarcodeFormat.UPCA,
    zxingcpp.BarcodeFormat.UPCE,
    zxingcpp.BarcodeFormat.Code128,
    zxingcpp.BarcodeFormat.Code39,
    zxingcpp.BarcodeFormat.DataMatrix,
    zxingcpp.BarcodeFormat.QRCode,
)


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # 0..1
    box: tuple[int, int, int, int]  # upload coordinates
    prepared_box: tuple[int, int, int, int]  # on the prepared image, where lines are horizontal
    block: int
    line: int
    word: int


@dataclass(frozen=True)
class BarcodeHit:
    format: str
    text: str
    box: tuple[int, int, int, int]


def read_words(prepared: Prepared, languages: Sequence[str], timeout: float) -> list[Word]:
    data = pytesseract.image_to_data(
        prepared.image,
        lang="+".join(languages),
        config=TESSERACT_CONFIG,
        output_type=pytesseract.Output.DICT,
        timeout=timeout,
    )
    words = []
    for i, text in enumerate(data["text"]):
        text = (text or "").strip()
        conf = float(data["conf"][i])
        if not text or conf < 0:
            continue
        left, top, width, height = (int(data[k][i]) for k in ("left", "top", "width", "height"))
        box = (left, top, left + width, top + height)
        words.append(
            Word(
                text=text,
                confidence=round(conf / 100.0, 3),
                box=prepared.to_source(*box),
                prepared_box=box,
                block=int(data["block_num"][i]),
                line=int(data["line_num"][i]),
                word=int(data["word_num"][i]),
            )
        )
    return words


def read_barcodes(image: Image.Image) -> list[BarcodeHit]:
    pixels = np.asarray(image.convert("L"))
    hits = []
    for found in zxingcpp.read_barcodes(pixels, formats=zxingcpp.BarcodeFormats(LABEL_BARCODE_FORMATS)):
        if not found.valid or not found.text:
            continue
        pos = found.position
        xs = [pos.top_left.x, pos.top_right.x, pos.bottom_left.x, pos.bottom_right.x]
        ys = [pos.top_left.y, pos.top_right.y, pos.bottom_left.y, pos.bottom_right.y]
        hits.append(BarcodeHit(found.format.name, found.text, (min(xs), min(ys), max(xs), max(ys))))
    return hits
