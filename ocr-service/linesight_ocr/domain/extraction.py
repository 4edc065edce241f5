"""Codes from a label's words: find the label's own keys (`S/N`, `P/N`, `Model`, `MAC`, `EAN`, ...), take
the value right of or below each key, validate it (check digits, vendor formats) and repair OCR
confusions only where the format leaves no doubt."""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

from linesight_core.contracts.ocr import LabelCode, TextBox
from linesight_ocr.domain.codes import gtin_type, gtin_valid, normalise_mac, repair_digits, repair_to_pattern
from linesight_ocr.domain.reading import Word
from linesight_ocr.domain.vendors import VendorProfile

GENERIC_KEYS: dict[str, tuple[str, ...]] = {
    "serial": ("S/N", "SN", "Serial", "Serial No.", "Serial Number", "Ser. No."),
    "part_number": ("P/N", "PN", "Part No.", "Part Number", "Product No."),
    "model": ("Model", "Model No.", "M/N"),
    "mac": ("MAC", "MAC ID", "MAC Address", "LAN MAC", "WLAN MAC", "WiFi MAC"),
    "gtin": ("EAN", "EAN-13", "EAN13", "UPC", "UPC-A", "GTIN"),
}
GENERIC_CODE = re.compile(r"[A-Z0-9][A-Z0-9\-/#.]{3,29}")
EDGE_PUNCTUATION = ":;,.()[]{}'\"`"
# A repaired character costs confidence: the read was not what the label says.
REPAIR_PENALTY = 0.9
INVALID_PENALTY = 0.5


@dataclass(frozen=True)
class Piece:
    """A word, or one side of a word glued around a colon (`S/N:PF3K9ZQ2`)."""

    text: str
    word: Word

    @property
    def key_form(self) -> str:
        return self.text.upper().rstrip(":.#").replace(" ", "")


def _key_form(key: str) -> tuple[str, ...]:
    return tuple(part.upper().rstrip(":.#") for part in key.split())


def _pieces(words: list[Word], single_word_keys: set[str]) -> list[Piece]:
    out = []
    for word in words:
        left, colon, right = word.text.partition(":")
        if colon and right and left.upper().rstrip(".#") in single_word_keys:
            out.extend((Piece(left + ":", word), Piece(right, word)))
        else:
            out.append(Piece(word.text, word))
    return out


def _lines(words: list[Word]) -> list[list[Word]]:
    """Words grouped into visual lines on the upright image, each left to right."""
    if not words:
        return []
    height = statistics.median(w.prepared_box[3] - w.prepared_box[1] for w in words)
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.prepared_box[1] + w.prepared_box[3]) / 2):
        centre = (word.prepared_box[1] + word.prepared_box[3]) / 2
        if lines:
            last = lines[-1]
            last_centre = statistics.fmean((w.prepared_box[1] + w.prepared_box[3]) / 2 for w in last)
            if abs(centre - last_centre) < 0.5 * height:
                last.append(word)
                continue
        lines.append([word])
    return [sorted(line, key=lambda w: w.prepared_box[0]) for line in lines]


class KeyTable:
    """Every key a label may carry, longest first, mapped to the field it names."""

    def __init__(self, vendor: VendorProfile | None) -> None:
        entries: dict[tuple[str, ...], str] = {}
        for field, keys in GENERIC_KEYS.items():
            for key in keys:
                entries[_key_form(key)] = field
        if vendor is not None:
            for field, fmt in vendor.fields.items():
                for key in fmt.keys:
                    entries[_key_form(key)] = field
        self.entries = sorted(entries.items(), key=lambda kv: -len(kv[0]))
        self.single_words = {form[0] for form in entries if len(form) == 1}

    def match(self, pieces: list[Piece], start: int) -> tuple[str, int] | None:
        """(field, number of pieces) of the longest key starting at `start`."""
        for form, field in self.entries:
            span = pieces[start : start + len(form)]
            if len(span) == len(form) and all(p.key_form == k for p, k in zip(span, form, strict=True)):
                return field, len(form)
        return None


def _box(word: Word) -> TextBox:
    return TextBox(x1=word.box[0], y1=word.box[1], x2=word.box[2], y2=word.box[3])


def _below(key_word: Word, words: list[Word], used: set[int]) -> Word | None:
    """The nearest word under a key, starting near the key's left edge."""
    kx1, _, kx2, ky2 = key_word.prepared_box
    height = key_word.prepared_box[3] - key_word.prepared_box[1]
    best = None
    for word in words:
        if id(word) in used:
            continue
        x1, y1, _, _ = word.prepared_box
        if ky2 <= y1 <= ky2 + 2.5 * height and kx1 - height <= x1 <= kx2 + height:
            if best is None or y1 < best.prepared_box[1]:
                best = word
    return best


def _value_pieces(line: list[Piece], start: int, table: KeyTable, field: str) -> list[Piece]:
    """The pieces right of a key: one for codes, up to the next key or a wide gap for a model name."""
    values: list[Piece] = []
    i = start
    while i < len(line):
        if table.match(line, i) is not None and values:
            break
        piece = line[i]
        if values:
            prev = values[-1].word.prepared_box
            gap = piece.word.prepared_box[0] - prev[2]
            if gap > 2.5 * (prev[3] - prev[1]):
                break
        if piece.text.strip(EDGE_PUNCTUATION):
            values.append(piece)
            if field != "model":
                break
        i += 1
    return values


def make_code(
    field: str, key: str | None, raw: str, words: list[Word], vendor: VendorProfile | None
) -> LabelCode | None:
    raw = raw.strip(EDGE_PUNCTUATION)
    if not raw:
        return None
    confidence = min(w.confidence for w in words)
    boxes = [_box(w) for w in words]
    value, valid, repaired = raw, False, False
    if field == "gtin":
        compact = raw.replace(" ", "").replace("-", "")
        fixed = repair_digits(compact)
        code_type = gtin_type(fixed) if fixed.isdigit() else None
        if code_type is None:
            if key is None:
                return None
            code_type = "ean13"
        value, repaired, valid = fixed, fixed != compact, gtin_valid(fixed)
        field = code_type
    elif field == "mac":
        mac = normalise_mac(raw)
        valid = mac is not None
        value = mac or raw.upper()
        repaired = mac is not None and mac.replace(":", "") != re.sub(r"[:\-]", "", raw.upper())
    elif field == "model":
        valid = len(raw) >= 2
    else:
        upper = raw.upper()
        fmt = vendor.fields.get(field) if vendor else None
        if fmt is not None and fmt.pattern is not None:
            fixed = repair_to_pattern(upper, fmt.pattern)
            valid = fixed is not None
            value = fixed or upper
            repaired = fixed is not None and fixed != upper
        else:
            value, valid = upper, bool(GENERIC_CODE.fullmatch(upper))
    if repaired:
        confidence *= REPAIR_PENALTY
    if not valid:
        confidence *= INVALID_PENALTY
    return LabelCode(
        type=field,  # type: ignore[arg-type]
        key=key,
        value=value,
        raw=raw,
        confidence=round(confidence, 3),
        source="ocr",
        valid=valid,
        repaired=repaired,
        token_boxes=boxes,
    )


def extract_codes(words: list[Word], vendor: VendorProfile | None) -> list[LabelCode]:
    table = KeyTable(vendor)
    codes: list[LabelCode] = []
    used: set[int] = set()  # ids of words taken as a key or a value
    for line_words in _lines(words):
        line = _pieces(line_words, table.single_words)
        i = 0
        while i < len(line):
            hit = table.match(line, i)
            if hit is None:
                i += 1
                continue
            field, length = hit
            key_pieces = line[i : i + length]
            key = " ".join(p.text.rstrip(":") for p in key_pieces)
            used.update(id(p.word) for p in key_pieces)
            values = _value_pieces(line, i + length, table, field)
            if values:
                raw = " ".join(p.text for p in values)
                value_words = list(dict.fromkeys(p.word for p in values))
                i += length + len(values)
            else:
                below = _below(key_pieces[-1].word, words, used)
                i += length
                if below is None:
                    continue
                raw, value_words = below.text, [below]
            used.update(id(w) for w in value_words)
            code = make_code(field, key, raw, value_words, vendor)
            if code is not None:
                codes.append(code)
    # Human-readable digits under a barcode carry no key: take 12- and 13-digit numbers as they are.
    for word in words:
        text = word.text.strip(EDGE_PUNCTUATION)
        if id(word) not in used and text.isdigit() and len(text) in (12, 13):
            code = make_code("gtin", None, text, [word], vendor)
            if code is not None:
                codes.append(code)
    return codes
