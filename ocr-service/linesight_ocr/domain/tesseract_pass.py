"""One Tesseract pass over a prepared label and the barcodes zxing-cpp finds on the upload.

The pass runs with automatic page segmentation and orientation detection (`--psm 1`): Tesseract turns
each text block upright itself, so a label photographed sideways or upside down costs one pass, not
four. Its hOCR output says per line at which angle the text was read, which gives every word a box in
upright coordinates (for the key/value layout) next to its box on the upload."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise

import numpy as np
import zxingcpp
from PIL import Image

from linesight_ocr.domain import engine
from linesight_ocr.domain.preprocess import Prepared

# min_orientation_margin=0: follow orientation detection's best guess even when the margin to the
# runner-up is small; the default (7) leaves many upside-down labels upside down.
# lstm_choice_mode=2 with hocr_char_boxes: per character, the recogniser's other candidates and their
# scores, which say which character a misread one probably was (an `O` that scored a `9` close behind).
CHOICES = (("lstm_choice_mode", "2"), ("hocr_char_boxes", "1"))
PAGE_VARIABLES = (("min_orientation_margin", "0"), *CHOICES)
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
LINE_CLASSES = frozenset({"ocr_line", "ocr_caption", "ocr_header", "ocr_textfloat"})
BBOX = re.compile(r"bbox (-?\d+) (-?\d+) (-?\d+) (-?\d+)")
TEXTANGLE = re.compile(r"textangle (\d+)")
WCONF = re.compile(r"x_wconf (-?\d+(?:\.\d+)?)")
XCONF = re.compile(r"x_confs? (-?\d+(?:\.\d+)?)")
XBOXES = re.compile(r"x_bboxes (-?\d+) (-?\d+) (-?\d+) (-?\d+)")

Box = tuple[int, int, int, int]
# Per character of a word: the recogniser's candidates with their scores (0..100), its choice first.
Choices = tuple[tuple[tuple[str, float], ...], ...]


@dataclass(frozen=True)
class Word:
    text: str
    confidence: float  # 0..1
    box: Box  # upload coordinates
    prepared_box: Box  # upright: lines run left to right, top to bottom
    block: int
    line: int  # within the block
    word: int  # within the line
    rotation: int = 0  # degrees clockwise that turn this word upright (from the upload)
    image_box: Box = (0, 0, 0, 0)  # on the prepared image Tesseract read
    image_turn: int = 0  # degrees clockwise that turn the word upright on that image
    choices: Choices = ()  # one entry per character of `text`, or none
    char_boxes: tuple[Box, ...] = ()  # per character of `text` (with `choices`), on the prepared image


@dataclass(frozen=True)
class BarcodeHit:
    format: str
    text: str
    box: Box
    alternatives: tuple[str, ...] = ()  # other decodes of the same symbol (another binarization)


def upright_box(box: Box, rotation: int, size: tuple[int, int]) -> Box:
    """A box on an image of `size` (width, height) where it lies once the image is turned `rotation`
    degrees clockwise."""
    w, h = size
    x1, y1, x2, y2 = box
    if rotation == 90:
        return h - y2, x1, h - y1, x2
    if rotation == 180:
        return w - x2, h - y2, w - x1, h - y1
    if rotation == 270:
        return y1, w - x2, y2, w - x1
    return box


def _turn(dx: float, dy: float, rotation: int) -> tuple[float, float]:
    """A direction on the image once the image is turned `rotation` degrees clockwise."""
    return {0: (dx, dy), 90: (-dy, dx), 180: (-dx, -dy), 270: (dy, -dx)}[rotation]


def block_rotation(lines: list[list[Box]], fallback: int) -> int:
    """The turn that makes a block's words run left to right and its lines top to bottom, from where
    Tesseract put them in reading order. hOCR's `textangle` alone is not enough: for some sideways
    pages Tesseract reads the text right but reports it upside down."""

    def centre(box: Box) -> tuple[float, float]:
        return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2

    steps: list[tuple[float, float, int]] = []  # direction, and 0: along a line, 1: to the next line
    for line in lines:
        steps.extend((*_step(centre(a), centre(b)), 0) for a, b in pairwise(line))
    firsts = [centre(line[0]) for line in lines if line]
    steps.extend((*_step(a, b), 1) for a, b in pairwise(firsts))
    if not steps:
        return fallback
    scores = {r: sum(_turn(dx, dy, r)[axis] for dx, dy, axis in steps) for r in (0, 90, 180, 270)}
    best = max(scores, key=lambda r: (scores[r], r == fallback))
    return best if scores[best] > 0 else fallback


def _step(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = (dx * dx + dy * dy) ** 0.5 or 1.0
    return dx / length, dy / length


def _characters(span: ET.Element) -> tuple[str, Choices, tuple[Box, ...]]:
    """A word's text and, per character, the recogniser's candidates and the character's box (hOCR
    `ocrx_cinfo` spans); no candidates and boxes when they do not line up with the text."""
    chars: list[tuple[str, list[tuple[str, float]], Box]] = []
    for child in span:
        if child.get("id", "").startswith("lstm_choices"):
            if chars:
                chars[-1][1][:] = [
                    (c.text or "", float(m.group(1)) if (m := XCONF.search(c.get("title", ""))) else 0.0)
                    for c in child
                    if c.text
                ]
        elif child.get("class") == "ocrx_cinfo" and child.text:
            title = child.get("title", "")
            conf, found = XCONF.search(title), XBOXES.search(title)
            box: Box = tuple(int(v) for v in found.groups()) if found else (0, 0, 0, 0)  # type: ignore[assignment]
            chars.append((child.text, [(child.text, float(conf.group(1)) if conf else 0.0)], box))
    text = "".join(c for c, _, _ in chars)
    if not chars or text.strip() != text or any(len(c) != 1 for c, _, _ in chars):
        return "".join(span.itertext()).strip() if not chars else text.strip(), (), ()
    return text, tuple(tuple(alts) for _, alts, _ in chars), tuple(box for _, _, box in chars)


def parse_hocr(hocr: str | bytes, prepared: Prepared) -> list[Word]:
    # Tesseract's own output for an image, not a document from outside: it declares no entities.
    root = ET.fromstring(hocr)  # noqa: S314
    size = prepared.image.size
    words: list[Word] = []
    block = 0
    for area in root.iter():
        if area.get("class") != "ocr_carea":
            continue
        block += 1
        lines: list[list[tuple[str, float, Box, Choices, tuple[Box, ...]]]] = []
        angles: Counter[int] = Counter()
        for line in area.iter():
            if line.get("class") not in LINE_CLASSES:
                continue
            angle = TEXTANGLE.search(line.get("title", ""))
            found = []
            for span in line.iter():
                if span.get("class") != "ocrx_word":
                    continue
                text, choices, char_boxes = _characters(span)
                title = span.get("title", "")
                bbox, conf = BBOX.search(title), WCONF.search(title)
                if text and bbox is not None:
                    box: Box = tuple(int(v) for v in bbox.groups())  # type: ignore[assignment]
                    confidence = max(0.0, float(conf.group(1)) if conf else 0.0) / 100.0
                    found.append((text, confidence, box, choices, char_boxes))
            if found:
                lines.append(found)
                angles[int(angle.group(1)) % 360 if angle else 0] += len(found)
        if not lines:
            continue
        fallback = angles.most_common(1)[0][0]
        rotation = block_rotation([[found[2] for found in line] for line in lines], fallback)
        for line_no, line_words in enumerate(lines, start=1):
            for word_no, (text, confidence, box, choices, char_boxes) in enumerate(line_words, start=1):
                words.append(
                    Word(
                        text=text,
                        confidence=round(confidence, 3),
                        box=prepared.to_source(*box),
                        prepared_box=upright_box(box, rotation, size),
                        block=block,
                        line=line_no,
                        word=word_no,
                        rotation=(prepared.rotation + rotation) % 360,
                        image_box=box,
                        image_turn=rotation,
                        choices=choices,
                        char_boxes=char_boxes,
                    )
                )
    return words


def read_words(
    prepared: Prepared, languages: Sequence[str], timeout: float, *, upright: bool = False
) -> list[Word]:
    """`upright`: the page is known to be upright; read it without orientation detection."""
    if upright:
        hocr = engine.hocr(prepared.image, languages, engine.PSM.AUTO, CHOICES, timeout)
    else:
        hocr = engine.hocr(prepared.image, languages, engine.PSM.AUTO_OSD, PAGE_VARIABLES, timeout)
    return parse_hocr(hocr, prepared)


def page_rotation(words: list[Word]) -> tuple[int, float]:
    """The rotation most of the text was read at (weighted by characters) and the share that agrees."""
    weights: Counter[int] = Counter()
    for w in words:
        weights[w.rotation] += len(w.text)
    if not weights:
        return 0, 1.0
    rotation, weight = weights.most_common(1)[0]
    return rotation, weight / sum(weights.values())


def read_quality(words: list[Word]) -> float:
    """Mean confidence of the words of three characters or more: a page read the wrong way up reads as
    a few low-confidence scraps (under 0.3 where the right way reads above 0.7)."""
    long = [w.confidence for w in words if len(w.text) >= 3]
    return sum(long) / len(long) if long else 0.0


def _decode(pixels: np.ndarray, binarizer: zxingcpp.Binarizer) -> list[BarcodeHit]:
    hits = []
    formats = zxingcpp.BarcodeFormats(LABEL_BARCODE_FORMATS)
    for found in zxingcpp.read_barcodes(pixels, formats=formats, binarizer=binarizer):
        if not found.valid or not found.text:
            continue
        pos = found.position
        xs = [pos.top_left.x, pos.top_right.x, pos.bottom_left.x, pos.bottom_right.x]
        ys = [pos.top_left.y, pos.top_right.y, pos.bottom_left.y, pos.bottom_right.y]
        hits.append(BarcodeHit(found.format.name, found.text, (min(xs), min(ys), max(xs), max(ys))))
    return hits


# Symbologies with one weak check digit, which a misdecode passes one time in ten.
GTIN_DECODES = frozenset({"EAN13", "EAN8", "UPCA", "UPCE"})


def _overlap(a: Box, b: Box) -> bool:
    """Two decodes' places on one symbol: zxing-cpp places a 1D barcode on its scan line, a box of
    little or no height, so both are widened by a share of their width first."""
    pad = max(8, round(0.15 * max(a[2] - a[0], b[2] - b[0], a[3] - a[1], b[3] - b[1])))
    return a[0] - pad < b[2] and b[0] - pad < a[2] and a[1] - pad < b[3] and b[1] - pad < a[3]


def read_barcodes(image: Image.Image) -> list[BarcodeHit]:
    """The label's barcodes. zxing-cpp's default binarizer (a local average) decodes a blurred EAN-13
    now and then as another number whose one check digit still holds; a fixed threshold decodes the same
    symbol as printed, and the reverse happens too. So every label is decoded both ways (the second costs
    about 10 ms): a GTIN symbol decoded as different values (either way) carries all of them, and the
    printed text, where it agrees with one, says which (label.merge_barcodes); a symbol only one way
    decodes counts as found."""
    pixels = np.asarray(image.convert("L"))
    hits: list[BarcodeHit] = []
    for found in (
        *_decode(pixels, zxingcpp.Binarizer.LocalAverage),
        *_decode(pixels, zxingcpp.Binarizer.FixedThreshold),
    ):
        same = [i for i, h in enumerate(hits) if h.format == found.format and h.text == found.text]
        if not same and found.format in GTIN_DECODES:  # Code 128 and 39 carry strong checks of their own
            same = [i for i, h in enumerate(hits) if h.format == found.format and _overlap(h.box, found.box)]
        if not same:
            hits.append(found)
        elif found.text != hits[same[0]].text and found.text not in hits[same[0]].alternatives:
            hit = hits[same[0]]
            hits[same[0]] = replace(hit, alternatives=(*hit.alternatives, found.text))
    return hits
