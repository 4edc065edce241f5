"""Code formats on product labels: GTIN check digits, MAC addresses, and repair of OCR confusions
where a format leaves no doubt which character was meant."""

from __future__ import annotations

import itertools
import re

# Letters Tesseract reads in place of digits (and back). Only applied where a format demands the class.
TO_DIGIT = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", "s": "5", "B": "8"})
TO_LETTER = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})
MAX_REPAIRS = 3
GTIN_LENGTHS = {8: "ean8", 12: "upca", 13: "ean13", 14: "gtin14"}
HEX_REPAIR = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "S": "5"})
MAC_RE = re.compile(r"^[0-9A-F]{2}([:\-]?)[0-9A-F]{2}(\1[0-9A-F]{2}){4}$")


def gtin_check_digit(body: str) -> int:
    """The GS1 check digit of the digits before it (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10


def gtin_valid(value: str) -> bool:
    return (
        value.isascii()
        and value.isdigit()
        and len(value) in GTIN_LENGTHS
        and gtin_check_digit(value[:-1]) == int(value[-1])
    )


def gtin_type(value: str) -> str | None:
    return GTIN_LENGTHS.get(len(value))


def repair_digits(raw: str) -> str:
    """`4OO6381333931` → `4006381333931`; used only for fields that are all digits."""
    return raw.translate(TO_DIGIT)


def normalise_mac(raw: str) -> str | None:
    """`3c-52-82-1a-2b-4f`, `3C52821A2B4F`, `3C:52:82:IA:2B:4F` → `3C:52:82:1A:2B:4F`, else None."""
    text = raw.strip().upper().translate(HEX_REPAIR)
    if not MAC_RE.match(text):
        return None
    hexdigits = re.sub(r"[:\-]", "", text)
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


def repair_to_pattern(raw: str, pattern: re.Pattern[str]) -> str | None:
    """The raw value if it matches the pattern; else the one value that the fewest confusion repairs
    (O↔0, I↔1, S↔5, B↔8) make match. None when nothing fits or two repairs fit equally well: then the
    format does not say which character was meant."""
    if pattern.fullmatch(raw):
        return raw
    swaps = [
        (i, ch.translate(TO_DIGIT) if ch.translate(TO_DIGIT) != ch else ch.translate(TO_LETTER))
        for i, ch in enumerate(raw)
    ]
    swaps = [(i, alt) for i, alt in swaps if alt != raw[i]]
    for size in range(1, min(len(swaps), MAX_REPAIRS) + 1):
        fits = set()
        for chosen in itertools.combinations(swaps, size):
            chars = list(raw)
            for i, alt in chosen:
                chars[i] = alt
            trial = "".join(chars)
            if pattern.fullmatch(trial):
                fits.add(trial)
        if fits:
            return fits.pop() if len(fits) == 1 else None
    return None
