"""Codes from a label's words: find the label's own keys (`S/N`, `P/N`, `Model`, `MAC`, `EAN`, ...), take
the value right of or below each key (one word, or several a space or a misread split apart), validate it
(check digits, vendor formats) and repair OCR confusions only where the format leaves no doubt. Values
without a readable key are taken only when the vendor's format points at one word, and always for review.

Each key yields candidates (one word or several, right of it or below it); `rank` picks one. The rules
rank by validity, repairs and layout; a trained token classifier (linesight_ocr.classifier) can rank
instead, the rules still validating formats and check digits."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from linesight_core.contracts.ocr import LabelCode, TextBox
from linesight_core.label_codes import is_identifier
from linesight_ocr.domain.codes import (
    Choices,
    choose_to_pattern,
    gtin_type,
    gtin_valid,
    read_mac,
    repair_digits,
    repair_to_pattern,
)
from linesight_ocr.domain.keys import (
    EDGE_PUNCTUATION,
    KEY_END,
    KeyTable,
    Piece,
    is_key_word,
    lines_of,
    pieces_of,
)
from linesight_ocr.domain.tesseract_pass import Word
from linesight_ocr.domain.vendors import VendorProfile

MIN_IDENTIFIER = 4
# Words of a value farther apart than this many text heights are separate values.
VALUE_GAP_HEIGHTS = 2.5
JOIN_MAX_WORDS = 4
# Confidence a code keeps: a repaired character was not what the label says; an invalid value is
# probably misread; a value without its key may be some other code.
REPAIR_PENALTY = 0.85
INVALID_PENALTY = 0.5
SPLIT_PENALTY = 0.9
BELOW_PENALTY = 0.95
UNKEYED_PENALTY = 0.6
# The read fits the format, but so would a character the recogniser scored close behind.
AMBIGUOUS_PENALTY = 0.8
MIN_UNKEYED_PROBABILITY = 0.5


def _box(word: Word) -> TextBox:
    return TextBox(x1=word.box[0], y1=word.box[1], x2=word.box[2], y2=word.box[3])


def _height(word: Word) -> int:
    return max(1, word.prepared_box[3] - word.prepared_box[1])


@dataclass(frozen=True)
class Candidate:
    """One way to read a field's value: the pieces it is made of and where they sit from the key."""

    field: str  # serial, part_number, model, mac, gtin
    key: str | None
    pieces: tuple[Piece, ...]
    place: str  # "right" of its key, "below" it, or "unkeyed"

    @property
    def words(self) -> list[Word]:
        return list(dict.fromkeys(p.word for p in self.pieces))

    @property
    def choices(self) -> Choices | None:
        """The recogniser's candidates per character of `raw`, when every piece has them."""
        out: list[Sequence[tuple[str, float]]] = []
        for piece in self.pieces:
            word = piece.word
            if len(word.choices) != len(word.text) or not word.text.endswith(piece.text):
                return None
            part = word.choices[len(word.text) - len(piece.text) :]
            text = piece.text
            start = len(text) - len(text.lstrip(EDGE_PUNCTUATION))
            out.extend(part[start : start + len(text.strip(EDGE_PUNCTUATION))])
            if self.field == "model":
                return None
        return out

    @property
    def raw(self) -> str:
        joiner = " " if self.field == "model" else ""
        return joiner.join(p.text.strip(EDGE_PUNCTUATION) for p in self.pieces)


# Per word (by id), the probability of each field a token classifier gives it.
TokenScores = dict[int, dict[str, float]]


def _score(cand: Candidate, scores: TokenScores) -> float:
    return statistics.fmean(scores.get(id(w), {}).get(cand.field, 0.0) for w in cand.words)


def rank(
    options: list[tuple[Candidate, LabelCode]], scores: TokenScores | None
) -> list[tuple[Candidate, LabelCode]]:
    """Valid before invalid; then, by the rules, fewer repairs, right of the key before below it and
    more of the line; or, with a token classifier, the candidate whose words it finds likeliest."""

    def by_rules(option: tuple[Candidate, LabelCode]) -> tuple[float, ...]:
        cand, code = option
        pieces = -len(cand.pieces) if code.valid else len(cand.pieces)
        return (not code.valid, code.repaired, cand.place != "right", pieces)

    def by_scores(option: tuple[Candidate, LabelCode]) -> tuple[float, ...]:
        assert scores is not None
        return (not option[1].valid, -round(_score(option[0], scores), 2), *by_rules(option)[1:])

    return sorted(options, key=by_rules if scores is None else by_scores)


def _right_pieces(line: list[Piece], start: int, table: KeyTable) -> list[Piece]:
    """The pieces right of a key up to the next key or a wide gap."""
    values: list[Piece] = []
    for i in range(start, len(line)):
        piece = line[i]
        if values and table.match(line, i) is not None:
            break
        prev = values[-1].word if values else None
        if prev is not None and piece.word is not prev:
            gap = piece.word.prepared_box[0] - prev.prepared_box[2]
            if gap > VALUE_GAP_HEIGHTS * _height(prev):
                break
        if piece.text.strip(EDGE_PUNCTUATION):
            values.append(piece)
    return values


def _below(key_words: list[Word], words: list[Word], used: set[int], table: KeyTable) -> Word | None:
    """The nearest word under a key, starting near the key's left edge, unless that is a key itself."""
    key_word = key_words[-1]
    kx1 = min(w.prepared_box[0] for w in key_words)
    _, _, kx2, ky2 = key_word.prepared_box
    height = _height(key_word)
    best = None
    for word in words:
        if id(word) in used:
            continue
        x1, y1, _, _ = word.prepared_box
        if ky2 <= y1 <= ky2 + 2.5 * height and kx1 - height <= x1 <= kx2 + height:
            if best is None or y1 < best.prepared_box[1]:
                best = word
    return None if best is None or table.is_key(best.text) or is_key_word(best.text) else best


def key_candidates(field: str, key: str, right: list[Piece], below: Word | None) -> list[Candidate]:
    out = []
    if field == "model":
        if right:
            out.append(Candidate(field, key, tuple(right), "right"))
    else:
        for n in range(1, min(len(right), JOIN_MAX_WORDS) + 1):
            out.append(Candidate(field, key, tuple(right[:n]), "right"))
    if below is not None:
        out.append(Candidate(field, key, (Piece(below.text, below),), "below"))
    return out


def make_code(
    field: str,
    key: str | None,
    raw: str,
    words: list[Word],
    vendor: VendorProfile | None,
    *,
    penalty: float = 1.0,
    read_confidence: float | None = None,
    choices: Choices | None = None,
) -> LabelCode | None:
    """`read_confidence`: how sure the reader was of `raw`, when not the words' own confidence;
    `choices`: the recogniser's candidates per character of `raw`."""
    stripped = raw.strip(EDGE_PUNCTUATION)
    if choices is not None:
        start = len(raw) - len(raw.lstrip(EDGE_PUNCTUATION))
        choices = choices[start : start + len(stripped)]
    raw = stripped
    if not raw:
        return None
    confidence = (min(w.confidence for w in words) if read_confidence is None else read_confidence) * penalty
    boxes = [_box(w) for w in words]
    value, valid, repairs, ambiguous = raw, False, 0, False
    if field == "gtin":
        compact = raw.replace(" ", "").replace("-", "")
        fixed = repair_digits(compact)
        code_type = gtin_type(fixed) if fixed.isdigit() else None
        if code_type is None:
            if key is None:
                return None
            code_type = "ean13"
        value, valid = fixed, gtin_valid(fixed)
        repairs = sum(a != b for a, b in zip(compact, fixed, strict=True))
        field = code_type
    elif field == "mac":
        mac, repairs = read_mac(raw)
        valid = mac is not None
        value = mac or raw.upper()
    elif field == "model":
        valid = len(raw) >= 2
    else:
        upper = raw.upper()
        fmt = vendor.fields.get(field) if vendor else None
        if fmt is not None and fmt.pattern is not None:
            if choices is not None:
                fixed, ambiguous = choose_to_pattern(upper, choices, fmt.pattern)
            else:
                fixed = repair_to_pattern(upper, fmt.pattern)
            if fixed is None and "l" in raw:  # a lower-case l on an upper-case label is a misread 1
                fixed = repair_to_pattern(raw.replace("l", "1").upper(), fmt.pattern)
            valid = fixed is not None
            value = fixed or upper
            repairs = sum(a != b for a, b in zip(upper, value, strict=True))
        else:
            value, valid = upper, len(upper) >= MIN_IDENTIFIER and is_identifier(upper)
    confidence *= REPAIR_PENALTY**repairs
    if ambiguous:
        confidence *= AMBIGUOUS_PENALTY
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
        repaired=repairs > 0,
        token_boxes=boxes,
    )


def candidate_code(cand: Candidate, vendor: VendorProfile | None) -> LabelCode | None:
    if cand.field != "model" and any(is_key_word(p.text) for p in cand.pieces):
        return None  # a key's word (`Service` of `Service Tag`) is never a value
    penalty = {"right": 1.0, "below": BELOW_PENALTY, "unkeyed": UNKEYED_PENALTY}[cand.place]
    if len(cand.words) > 1 and cand.field != "model":
        penalty *= SPLIT_PENALTY
    return make_code(
        cand.field, cand.key, cand.raw, cand.words, vendor, penalty=penalty, choices=cand.choices
    )


def _unkeyed(
    words: list[Word],
    used: set[int],
    found: set[str],
    vendor: VendorProfile | None,
    table: KeyTable,
    scores: TokenScores,
) -> list[Candidate]:
    """Words the vendor's format points at for a field no key was read for: taken only when exactly one
    free word fits that field's format as read and no other missing field's."""
    free = [w for w in words if id(w) not in used and not table.is_key(w.text) and not is_key_word(w.text)]
    out = []
    patterns = {
        f: fmt.pattern
        for f, fmt in (vendor.fields.items() if vendor else ())
        if fmt.pattern is not None and f not in found and f != "model"
    }
    for field, pattern in patterns.items():
        fits = [w for w in free if pattern.fullmatch(w.text.strip(EDGE_PUNCTUATION).upper())]
        others = [p for f, p in patterns.items() if f != field]
        if len(fits) == 1 and not any(
            p.fullmatch(fits[0].text.strip(EDGE_PUNCTUATION).upper()) for p in others
        ):
            out.append(Candidate(field, None, (Piece(fits[0].text, fits[0]),), "unkeyed"))
    if "mac" not in found:
        macs = [w for w in free if (":" in w.text or "-" in w.text) and read_mac(w.text)[0] is not None]
        if len(macs) == 1:
            out.append(Candidate("mac", None, (Piece(macs[0].text, macs[0]),), "unkeyed"))
    return out


def _likely(
    words: list[Word],
    used: set[int],
    found: set[str],
    vendor: VendorProfile | None,
    table: KeyTable,
    scores: TokenScores,
) -> list[Candidate]:
    """For each field no key was read for, the free word the classifier finds likeliest to be it."""
    out = []
    taken: set[int] = set()
    for field in ("serial", "part_number", "mac"):
        if field in found:
            continue
        best = max(
            (w for w in words if id(w) not in used and id(w) not in taken and not table.is_key(w.text)),
            key=lambda w: scores.get(id(w), {}).get(field, 0.0),
            default=None,
        )
        if best is not None and scores.get(id(best), {}).get(field, 0.0) >= MIN_UNKEYED_PROBABILITY:
            taken.add(id(best))
            out.append(Candidate(field, None, (Piece(best.text, best),), "unkeyed"))
    return out


def extract_codes(
    words: list[Word], vendor: VendorProfile | None, scores: TokenScores | None = None
) -> list[LabelCode]:
    """`scores`: a token classifier's probabilities; they rank each key's candidates and find values
    whose key was not read. Without them the rules alone decide."""
    table = KeyTable(vendor)
    codes: list[LabelCode] = []
    used: set[int] = set()  # ids of words taken as a key or a value
    found: set[str] = set()
    for line_words in lines_of(words):
        line = pieces_of(line_words, table)
        i = 0
        while i < len(line):
            hit = table.match(line, i)
            if hit is None:
                i += 1
                continue
            field, length = hit
            key_pieces = line[i : i + length]
            key = " ".join(p.text.rstrip(KEY_END) for p in key_pieces)
            right = [p for p in _right_pieces(line, i + length, table) if id(p.word) not in used]
            used.update(id(p.word) for p in key_pieces)
            below = _below([p.word for p in key_pieces], words, used, table) if field != "model" else None
            options = []
            for cand in key_candidates(field, key, right, below):
                code = candidate_code(cand, vendor)
                if code is not None:
                    options.append((cand, code))
            i += length
            if not options:
                continue
            best, code = rank(options, scores)[0]
            used.update(id(w) for w in best.words)
            codes.append(code)
            found.add(field)
            if best.place == "right":
                i += len(best.pieces)
    # Values whose key was not read: where the vendor's format points at one word, then (with a
    # classifier) the word it finds likeliest for each field still missing.
    for pick in (_unkeyed, _likely):
        if pick is _likely and scores is None:
            continue
        for cand in pick(words, used, found, vendor, table, scores or {}):
            code = candidate_code(cand, vendor)
            if code is not None and code.valid:
                used.update(id(w) for w in cand.words)
                found.add(cand.field)
                codes.append(code)
    # Human-readable digits under a barcode carry no key: take 12- and 13-digit numbers as they are.
    for word in words:
        text = word.text.strip(EDGE_PUNCTUATION)
        if id(word) not in used and text.isdigit() and len(text) in (12, 13):
            code = make_code("gtin", None, text, [word], vendor)
            if code is not None:
                codes.append(code)
    return codes
