"""A second look at the characters of serials and part numbers that Tesseract confuses (5/S, 8/B, 9/Q,
7/T, 1/I/L, 6/G, 2/Z, 0/O/D). Reading a whole line, the recogniser weighs each character by its
neighbours: a `5` between letters comes out as `S`, with 95 % confidence and no runner-up. Read alone,
the same glyph is a `5`. So each value is cut out upright, read once more as a single line to find its
characters' boxes, and every confusable character is read again on its own; a character that reads
as its confusable partner with high confidence is replaced, provided the value still fits its format.
A value changed this way was read two ways: it keeps a lower confidence and goes to review."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence

import cv2
import numpy as np
from PIL import Image, ImageOps

from linesight_core.contracts.ocr import LabelCode
from linesight_core.label_codes import is_identifier
from linesight_ocr import metrics
from linesight_ocr.domain import engine
from linesight_ocr.domain.preprocess import Prepared
from linesight_ocr.domain.second_read import CODE_CHARACTERS, crop_upright
from linesight_ocr.domain.tesseract_pass import XBOXES, Word
from linesight_ocr.domain.vendors import VendorProfile

FIELDS = frozenset({"serial", "part_number"})
# Pairs of characters Tesseract reads for one another in a line of mixed letters and digits.
PAIRS = frozenset(
    frozenset(pair)
    for pair in ("5S", "8B", "8S", "9Q", "7T", "1I", "1L", "1J", "6G", "2Z", "0O", "0D", "0Q", "09")
)
CONFUSABLE = frozenset(ch for pair in PAIRS for ch in pair)
GLYPH_CHARACTERS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MIN_GLYPH_CONFIDENCE = 80.0
# Confidence a value keeps when a character read alone overruled the line read.
GLYPH_PENALTY = 0.85
MARGIN_PX = 12
GLYPH_PAD_PX = 2
LINE_VARIABLES = (("hocr_char_boxes", "1"), ("tessedit_char_whitelist", CODE_CHARACTERS))
GLYPH_VARIABLES = (("tessedit_char_whitelist", GLYPH_CHARACTERS),)

Box = tuple[int, int, int, int]


def _character_boxes(hocr: str) -> list[tuple[str, Box]]:
    # Tesseract's own output for an image, not a document from outside: it declares no entities.
    root = ET.fromstring(hocr)  # noqa: S314
    out = []
    for span in root.iter():
        if span.get("class") == "ocrx_cinfo" and span.text:
            found = XBOXES.search(span.get("title", ""))
            if found:
                out.append((span.text, tuple(int(v) for v in found.groups())))
    return out  # type: ignore[return-value]


def segment(line: Image.Image) -> list[Box]:
    """Boxes of the characters on an upright line of print, left to right: its dark connected
    components (Otsu threshold), those that overlap across the line merged (the dot of an `i`, the two
    strokes of a broken `#`), specks dropped."""
    gray = np.asarray(line.convert("L"))
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, _, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    height = max(int(stats[1:count, cv2.CC_STAT_HEIGHT].max(initial=0)), 1)
    spans: list[list[int]] = []
    for x, y, w, h, area in sorted(stats[1:count].tolist()):
        if h < 0.25 * height and area < 0.02 * height * height:
            continue  # noise
        if spans and x < spans[-1][2] - 0.3 * min(w, spans[-1][2] - spans[-1][0]):
            last = spans[-1]
            last[:] = [last[0], min(last[1], y), max(last[2], x + w), max(last[3], y + h)]
        else:
            spans.append([x, y, x + w, y + h])
    return [tuple(span) for span in spans]  # type: ignore[misc]


def split_to(boxes: list[Box], count: int) -> list[Box] | None:
    """`boxes` cut into `count` characters where glyphs touch: each box split evenly into as many
    characters as its width holds at the line's mean character width; None when that does not add up."""
    if not boxes or len(boxes) > count:
        return None
    pitch = sum(b[2] - b[0] for b in boxes) / count
    sizes = [max(1, round((b[2] - b[0]) / pitch)) for b in boxes]
    if sum(sizes) != count:
        return None
    out: list[Box] = []
    for (x1, y1, x2, y2), n in zip(boxes, sizes, strict=True):
        step = (x2 - x1) / n
        out.extend((round(x1 + k * step), y1, round(x1 + (k + 1) * step), y2) for k in range(n))
    return out


def _fits(value: str, field: str, vendor: VendorProfile | None) -> bool:
    fmt = vendor.fields.get(field) if vendor else None
    if fmt is not None and fmt.pattern is not None:
        return bool(fmt.pattern.fullmatch(value))
    return is_identifier(value)


def recheck_value(value: str, crop: Image.Image, languages: Sequence[str], timeout: float) -> tuple[str, int]:
    """`value` with its confusable characters read alone where that reads as their partner, and how
    many changed. `crop`: the value's words, upright."""
    if not any(ch in CONFUSABLE for ch in value):
        return value, 0
    lang = "+".join(languages)
    line = ImageOps.expand(crop, MARGIN_PX, fill=255)
    boxes = segment(line)
    if len(boxes) != len(value):
        boxes = split_to(boxes, len(value)) or boxes
    if len(boxes) != len(value):
        # Glyphs that touch: Tesseract's own character boxes from a read of the line alone.
        with engine.pool().engine(lang, engine.PSM.SINGLE_LINE, LINE_VARIABLES) as api:
            engine.recognise(api, line, timeout)
            boxes = [box for _, box in _character_boxes(api.GetHOCRText(0))]
    if len(boxes) != len(value):
        return value, 0  # the characters cannot be lined up with the value
    out = list(value)
    with engine.pool().engine(lang, engine.PSM.SINGLE_CHAR, GLYPH_VARIABLES) as api:
        for i, (ch, (x1, y1, x2, y2)) in enumerate(zip(value, boxes, strict=True)):
            if ch not in CONFUSABLE or x2 <= x1 or y2 <= y1:
                continue
            p = GLYPH_PAD_PX
            glyph = ImageOps.expand(line.crop((x1 - p, y1 - p, x2 + p, y2 + p)), MARGIN_PX, fill=255)
            engine.recognise(api, glyph, timeout)
            alone = engine.text(api).strip().upper()
            if (
                len(alone) == 1
                and frozenset((ch, alone)) in PAIRS
                and api.MeanTextConf() >= MIN_GLYPH_CONFIDENCE
            ):
                out[i] = alone
    changed = sum(a != b for a, b in zip(value, out, strict=True))
    return "".join(out), changed


def check_glyphs(
    codes: list[LabelCode],
    words: list[Word],
    prepared: Prepared,
    vendor: VendorProfile | None,
    languages: Sequence[str],
    timeout: float,
) -> list[LabelCode]:
    """Serials and part numbers read from the page with their confusable characters read again alone."""
    by_box = {w.box: w for w in words}
    out = list(codes)
    for i, code in enumerate(codes):
        if code.type not in FIELDS or code.source != "ocr" or not code.valid:
            continue
        value_words = [by_box.get((b.x1, b.y1, b.x2, b.y2)) for b in code.token_boxes]
        if not value_words or any(w is None for w in value_words):
            continue
        crop = crop_upright(prepared, [w for w in value_words if w is not None])
        value, changed = recheck_value(code.value, crop, languages, timeout)
        if changed and _fits(value, code.type, vendor):
            metrics.GLYPH_CORRECTIONS.inc(changed)
            confidence = round(code.confidence * GLYPH_PENALTY**changed, 3)
            out[i] = code.model_copy(update={"value": value, "repaired": True, "confidence": confidence})
    return out
