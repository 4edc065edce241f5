"""Cross-checks between codes printed on one label that decide, not guess.

Dell's Express Service Code is the Service Tag read as a base-36 number (0-9, A-Z), written in decimal
(`6HALZZ3` → 14106441567): where both are printed they must agree. Agreement confirms the tag; a tag read one or two characters off the decoded code is corrected
to it (the digits of the code and the characters of the tag are read independently, so an agreeing pair
is no accident) where those characters are OCR confusions or both recognizers read the code alike; a
tag that fits neither goes to review as read."""

from __future__ import annotations

import difflib
import re

from linesight_core.contracts.ocr import LabelCode
from linesight_ocr.domain.codes import confusable
from linesight_ocr.domain.keys import lines_of
from linesight_ocr.domain.tesseract_pass import Word

EXPRESS = "express_service_code"
TAG_LENGTH = 7
LEADING_DIGITS = re.compile(r"[^0-9A-Z]*(\d+)")
# The 11-digit code of a 7-character tag (36**7 is 78 364 164 096).
MAX_CODE_DIGITS = 11


def tag_of(code: str) -> str | None:
    """The Service Tag an Express Service Code stands for, or None when it cannot be one."""
    digits = "".join(ch for ch in code if ch.isdigit())
    if not digits or len(digits) > MAX_CODE_DIGITS:
        return None
    number = int(digits)
    if number == 0 or number >= 36**TAG_LENGTH:
        return None
    out = ""
    while number:
        number, rest = divmod(number, 36)
        out = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[rest] + out
    return out.rjust(TAG_LENGTH, "0")


KEY = "EXPRESSSERVICECODE"
# The code's digits are on the key's line, or (a value under its key) alone on the line below it.
MIN_DIGITS = 6


def _digits_after(line: list[Word]) -> str | None:
    """The digits after the key on a line that holds `Express Service Code` (or `ESC`); "" when the key
    is there and no digits follow it; None when the line holds no such key."""
    joined = " ".join(w.text for w in line).upper().replace(":", " ")
    squeezed = joined.replace(" ", "")
    at = squeezed.find(KEY)
    if at < 0 and "ESC" not in joined.split():
        return None
    tail = squeezed[at + len(KEY) :] if at >= 0 else squeezed.split("ESC", 1)[1]
    # the code ends where its digits do: a second field on the line (`... 14106441567 DP/N 0X4VJ1`) is
    # not part of it
    found = LEADING_DIGITS.match(tail)
    return found.group(1) if found else ""


def express_codes(words: list[Word]) -> list[str]:
    """The digits after `Express Service Code` (or `ESC`) on a line, as one number (`141 064 415 67`),
    or on the line right below a key that has none after it. `words`: one recognizer's (two
    recognizers' words of one line interleave and no longer spell the key)."""
    found = []
    lines = lines_of(words)
    for n, line in enumerate(lines):
        digits = _digits_after(line)
        if digits is None:
            continue
        if len(digits) < MIN_DIGITS and n + 1 < len(lines):
            below = LEADING_DIGITS.match("".join(w.text for w in lines[n + 1]).upper())
            digits = below.group(1) if below else digits
        if len(digits) >= MIN_DIGITS:
            found.append(digits)
    return found


def check_express_code(codes: list[LabelCode], *reads: list[Word]) -> list[LabelCode]:
    """Dell serials confirmed (`evidence` gets `express_service_code`) or corrected by the label's Express
    Service Code, read from each recognizer's words (`reads`, one list per recognizer)."""
    per_read = [{t for t in (tag_of(c) for c in express_codes(words)) if t is not None} for words in reads]
    tags = set().union(*per_read)
    # a code every recognizer that read words read alike: no misread digit moved its tag
    agreed = set.intersection(*per_read) if len(per_read) > 1 and all(per_read) else set()
    if not tags:
        return codes
    out = []
    for code in codes:
        if code.type != "serial" or len(code.value) != TAG_LENGTH:
            out.append(code)
            continue
        readings = [code.value, *code.alternatives]
        agreeing = [r for r in readings if r in tags]
        if agreeing:
            out.append(_confirmed(code, agreeing[0], repaired=agreeing[0] != code.value))
            continue
        near = [
            t
            for t in tags
            if _differences(code.value, t) <= 2 and (t in agreed or _confusions(code.value, t))
        ]
        if len(near) == 1:
            out.append(_confirmed(code, near[0], repaired=True))
        else:
            out.append(code)
    return out


def _confusions(read: str, tag: str) -> bool:
    """Each character where the read tag and the decoded one differ is a pair OCR confuses (`O`/`0`).
    Any other difference is corrected only to a code both recognizers read alike: a misread digit of
    the code moves its tag (its last character, by the digit's value), and must not rewrite a tag read
    right into another."""
    return len(read) == len(tag) and all(a == b or confusable(a, b) for a, b in zip(read, tag, strict=True))


def _differences(a: str, b: str) -> int:
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for op, i1, i2, j1, j2 in ops if op != "equal")


def _confirmed(code: LabelCode, value: str, *, repaired: bool) -> LabelCode:
    alternatives = [a for a in (code.value, *code.alternatives) if a != value]
    return code.model_copy(
        update={
            "value": value,
            "valid": True,
            "repaired": code.repaired or repaired,
            "alternatives": alternatives,
            "disagreement": None,
            "evidence": [*code.evidence, EXPRESS],
            "confidence": max(code.confidence, 0.95),
        }
    )
