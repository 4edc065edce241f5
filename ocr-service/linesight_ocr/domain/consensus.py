"""Two recognizers' codes made one: Tesseract's and RapidOCR's candidates paired per field and aligned
character by character, agreement taken as evidence, disagreement sent to review with what differed.

A code may be approved without a person only when independent evidence agrees: both recognizers read
the same value, or a barcode carries it (label.merge_barcodes), or its check digit holds (GTINs). A code
only one recognizer read, or that they read differently, goes to review; `disagreement` names the
characters that differed (`tesseract read 'PF3K9ZO2', rapidocr read 'PF3K9Z02': O/0 at 7`)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence

from linesight_core.contracts.ocr import LabelCode
from linesight_ocr.domain.keys import KeyTable, is_key_word, lines_of
from linesight_ocr.domain.tesseract_pass import Word
from linesight_ocr.domain.vendors import VendorProfile

TESSERACT = "tesseract"
RAPIDOCR = "rapidocr"
BARCODE = "barcode"
CHECK_DIGIT = "check_digit"
EXPRESS_SERVICE_CODE = "express_service_code"  # crosschecks: Dell's tag in base 36 agrees
LINE_CROPS = "line_crops"  # line_look: Tesseract, reading RapidOCR's line crops, read the same value
GTIN_TYPES = frozenset({"ean13", "ean8", "upca", "gtin14"})
# Two independent recognizers reading the same value: wrong only where both made the same misreading.
AGREED_CONFIDENCE = 0.95
# A GTIN whose check digit holds: every single misread digit (and most swaps) would break it.
CHECK_DIGIT_CONFIDENCE = 0.9
# Two reads of one field less alike than this are taken for different codes, not one code misread.
MIN_SIMILARITY = 0.5
# Shorter values are found in any text by chance.
MIN_SEEN = 6


def normal(code: LabelCode) -> str:
    """What two reads of a code must share to be one value: letters and digits, upper case (a model's
    spaces, a MAC's separators and a GTIN's spacing are the label's layout, not its value)."""
    return "".join(ch for ch in code.value.upper() if ch.isalnum())


def group(code: LabelCode) -> str:
    return "gtin" if code.type in GTIN_TYPES else code.type


def similarity(a: str, b: str) -> float:
    """How alike two reads are, 0..1; a read cut short (`2D` of `2DDA1A6FD8B1`) is one of the other."""
    if a and b and (a in b or b in a):
        return 1.0 if a == b else 0.9
    return difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()


def describe(a: str, b: str, names: tuple[str, str] = (TESSERACT, RAPIDOCR)) -> str:
    """The character-level alignment of two reads, as a reviewer reads it: each differing stretch with
    its 1-based position (`O/0 at 7`, `missing 'Q' at 3`, `extra '5' at 9`)."""
    parts = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "replace":
            parts.append(f"{a[i1:i2]}/{b[j1:j2]} at {i1 + 1}")
        elif op == "delete":
            parts.append(f"'{a[i1:i2]}' only in {names[0]}'s at {i1 + 1}")
        elif op == "insert":
            parts.append(f"'{b[j1:j2]}' only in {names[1]}'s at {i1 + 1}")
    return f"{names[0]} read {a!r}, {names[1]} read {b!r}: " + ", ".join(parts)


def _single(code: LabelCode, name: str) -> LabelCode:
    if code.type in GTIN_TYPES and code.valid:
        confidence = max(code.confidence, CHECK_DIGIT_CONFIDENCE)
        return code.model_copy(update={"evidence": [name, CHECK_DIGIT], "confidence": confidence})
    return code.model_copy(update={"evidence": [name]})


# A second Tesseract read of what RapidOCR read as the second code (the first: Tesseract's page read of
# it, or None); line_look.LineLook.
Settle = Callable[[LabelCode | None, LabelCode], LabelCode | None]


def _settled(
    t: LabelCode | None, r: LabelCode, settle: Settle | None, again: LabelCode | None = None
) -> LabelCode | None:
    """RapidOCR's code, when Tesseract's second read of it (`again`, else settle's) reads the same value."""
    if again is None:
        again = settle(t, r) if settle is not None else None
    if again is None or normal(again) != normal(r):
        return None
    confidence = round(min(max(r.confidence, AGREED_CONFIDENCE), 0.99), 3)
    evidence = [TESSERACT, RAPIDOCR, LINE_CROPS] + ([CHECK_DIGIT] if r.type in GTIN_TYPES and r.valid else [])
    alternatives = [t.value] if t is not None and t.value != r.value else []
    return r.model_copy(update={"evidence": evidence, "alternatives": alternatives, "confidence": confidence})


def _pair(t: LabelCode, r: LabelCode, settle: Settle | None = None) -> LabelCode:
    again = settle(t, r) if settle is not None and normal(t) != normal(r) else None
    if again is not None and (settled := _settled(t, r, settle, again)) is not None:
        return settled
    if normal(t) == normal(r):
        # Two independent recognizers agreeing: the value is wrong only when both are.
        confidence = min(max(1 - (1 - t.confidence) * (1 - r.confidence), AGREED_CONFIDENCE), 0.999)
        base = t if t.valid or not r.valid else r
        evidence = [TESSERACT, RAPIDOCR] + ([CHECK_DIGIT] if base.type in GTIN_TYPES and base.valid else [])
        return base.model_copy(update={"confidence": round(confidence, 3), "evidence": evidence})
    # They differ: keep the read that fits its format (check digit, vendor pattern); both or neither
    # fitting, RapidOCR's (on the tuning set it misreads fewer characters than Tesseract).
    # Both fitting, Tesseract's when its second read (RapidOCR's line crops, not its page layout) read
    # the same value again and RapidOCR's differing characters are the format's repairs, not what it
    # read (a `Q` it read as `O`, repaired to `0`). Not otherwise: on the tuning set Tesseract's twice
    # read 1 for 9, S for 3 and B for 8 as often as RapidOCR misread a character as it stands.
    if t.valid != r.valid:
        chosen, other = (t, r) if t.valid else (r, t)
    elif t.valid and again is not None and normal(again) == normal(t) and _rapid_repaired(t, r):
        chosen, other = t, r
    else:
        chosen, other = r, t
    name = TESSERACT if chosen is t else RAPIDOCR
    if chosen.type in GTIN_TYPES and chosen.valid and not other.valid:
        # A GTIN whose check digit holds against a read whose does not: the check digit decides.
        update = {"evidence": [name, CHECK_DIGIT], "alternatives": [other.value]}
        update["confidence"] = max(chosen.confidence, CHECK_DIGIT_CONFIDENCE)
        return chosen.model_copy(update=update)
    return chosen.model_copy(
        update={
            "evidence": [name],
            "disagreement": describe(t.value, r.value),
            "alternatives": [other.value],
            "confidence": round(min(chosen.confidence, other.confidence), 3),
        }
    )


def _rapid_repaired(t: LabelCode, r: LabelCode) -> bool:
    """Each character where Tesseract's and RapidOCR's reads differ is one RapidOCR did not read as it
    stands: the format repaired it (its `O` of a `Q` became `0`)."""
    if len(t.value) != len(r.value) or len(r.raw) != len(r.value):
        return False
    return all(a == b or r.raw[i].upper() != b for i, (a, b) in enumerate(zip(t.value, r.value, strict=True)))


def text_of(words: Sequence[Word]) -> str:
    """A recognizer's words as letters and digits, line by line (values split across words join up)."""
    return "\n".join(normal_text(" ".join(w.text for w in line)) for line in lines_of(list(words)))


def normal_text(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _seen_by(code: LabelCode, name: str, other: str, other_text: str) -> LabelCode:
    """A code one recognizer's extraction found: the other's read agrees when its text holds the same
    characters (its own extraction missed the key or split the line differently)."""
    value = normal(code)
    if len(value) >= MIN_SEEN and value in other_text:
        confidence = max(code.confidence, AGREED_CONFIDENCE)
        evidence = [TESSERACT, RAPIDOCR] + ([CHECK_DIGIT] if code.type in GTIN_TYPES and code.valid else [])
        return code.model_copy(update={"evidence": evidence, "confidence": confidence})
    return _single(code, name)


def _cut_short(t: LabelCode, r: LabelCode, t_text: str, r_text: str) -> LabelCode | None:
    """One recognizer's value is the other's cut short (`92F01F` of `92F01F1C2D54`: its extraction
    stopped at a gap it read as a space): the whole value is both recognizers' when it fits its format
    and the text of the one that cut it holds all its characters in one line."""
    a, b = normal(t), normal(r)
    if a == b or not (a in b or b in a):
        return None
    longer, shorter, text = (t, r, r_text) if len(a) > len(b) else (r, t, t_text)
    value = normal(longer)
    if not longer.valid or len(value) < MIN_SEEN or value not in text:  # lines are apart: one line holds it
        return None
    evidence = [TESSERACT, RAPIDOCR] + ([CHECK_DIGIT] if longer.type in GTIN_TYPES and longer.valid else [])
    confidence = max(longer.confidence, AGREED_CONFIDENCE)
    return longer.model_copy(
        update={"evidence": evidence, "confidence": confidence, "alternatives": [shorter.value]}
    )


def combine(
    tesseract: Sequence[LabelCode],
    rapid: Sequence[LabelCode],
    tesseract_words: Sequence[Word] = (),
    rapid_words: Sequence[Word] = (),
    settle: Settle | None = None,
) -> list[LabelCode]:
    """One code per value: reads of the same field paired by similarity of their values (each read used
    once); an unpaired read counts as both recognizers' when the other's text holds its characters, else
    as what one recognizer alone saw. `settle`: a second look at a pair that differs."""
    t_text, r_text = text_of(tesseract_words), text_of(rapid_words)
    out: list[LabelCode] = []
    taken: set[int] = set()
    for t in tesseract:
        options = [
            (similarity(normal(t), normal(r)), i)
            for i, r in enumerate(rapid)
            if i not in taken and group(r) == group(t)
        ]
        best = max(options, default=None)
        if best is None or best[0] < MIN_SIMILARITY:
            out.append(_seen_by(t, TESSERACT, RAPIDOCR, r_text))
            continue
        taken.add(best[1])
        r = rapid[best[1]]
        out.append(_cut_short(t, r, t_text, r_text) or _pair(t, r, settle))
    for i, r in enumerate(rapid):
        if i not in taken:
            seen = _seen_by(r, RAPIDOCR, TESSERACT, t_text)
            out.append(seen if earned(seen) else _settled(None, r, settle) or seen)
    return out


def earned(code: LabelCode) -> bool:
    """Independent evidence agrees on the value: both recognizers, a barcode, its check digit, or (Dell
    Service Tags) the Express Service Code."""
    evidence = set(code.evidence)
    if code.source == "both" or {TESSERACT, RAPIDOCR} <= evidence or EXPRESS_SERVICE_CODE in evidence:
        return True
    return code.type in GTIN_TYPES and code.valid and CHECK_DIGIT in evidence


def unglue(words: list[Word], vendor: VendorProfile | None) -> list[Word]:
    """RapidOCR often drops the space after a key (`S/NRVC2P9V4`, `ServiceTag6HALZZ3`): a line's first
    word that starts with a whole key and goes on is cut into the key's words and the value."""
    table = KeyTable(vendor)
    forms = sorted(
        {form for form, _ in table.entries if len("".join(form)) >= 2}, key=lambda f: -len("".join(f))
    )
    out: list[Word] = []
    for word in words:
        left, colon, right = word.text.partition(":")
        if colon and right and left and (table.is_key(left) or is_key_word(left)):
            # `Tag:7XF1T2B`, the end of a key glued to its value (Tesseract's words split at the space)
            out.extend(_cut(word, [left + ":", right], len(word.text)))
            continue
        if word.word != 1:
            out.append(word)
            continue
        upper = word.text.upper()
        for form in forms:
            joined = "".join(form)
            rest = word.text[len(joined) :].lstrip(":;")
            if upper.startswith(joined) and len(rest) >= 2 and not any(upper == "".join(f) for f in forms):
                out.extend(_cut(word, [*form[:-1], form[-1] + ":", rest], len(word.text)))
                break
        else:
            out.append(word)
    return out


def _cut(word: Word, parts: list[str], length: int) -> list[Word]:
    """`word` as several words, each with its share of the upright box."""
    x1, y1, x2, y2 = word.prepared_box
    out, pos = [], 0
    for n, part in enumerate(parts):
        a, b = pos / length, min(pos + len(part.rstrip(":")), length) / length
        pos += len(part.rstrip(":"))
        box = (
            round(x1 + (x2 - x1) * a),
            y1,
            max(round(x1 + (x2 - x1) * b), round(x1 + (x2 - x1) * a) + 1),
            y2,
        )
        out.append(
            Word(
                text=part,
                confidence=word.confidence,
                box=word.box,
                prepared_box=box,
                block=word.block,
                line=word.line,
                word=word.word + n,
                rotation=word.rotation,
                image_box=word.image_box,
                image_turn=word.image_turn,
            )
        )
    return out
