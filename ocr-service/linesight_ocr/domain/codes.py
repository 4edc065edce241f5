"""OCR repairs of code values: confusions (O↔0, I↔1, S↔5, B↔8) repaired only where a format leaves no
doubt which character was meant, and MAC addresses read with stray separators. What a valid code is
(check digits, MAC form) is `linesight_core.label_codes`, shared with the gateway's review."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

from linesight_core.label_codes import canonical_mac, gtin_check_digit, gtin_type, gtin_valid

__all__ = [
    "gtin_check_digit",
    "gtin_type",
    "gtin_valid",
    "normalise_mac",
    "repair_digits",
    "repair_to_pattern",
]

# Characters Tesseract reads for one another on label fonts.
CONFUSABLE_GROUPS = tuple(frozenset(g) for g in ("0ODQ", "1IL7TJ", "5S", "8B", "2Z", "6G", "4A"))


def confusable(a: str, b: str) -> bool:
    """`a` and `b` are characters Tesseract reads for one another."""
    return any(a in group and b in group for group in CONFUSABLE_GROUPS)


# Letters Tesseract reads in place of digits (and back). Only applied where a format demands the class.
TO_DIGIT = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", "s": "5", "B": "8"})
TO_LETTER = str.maketrans({"0": "O", "1": "I", "5": "S", "8": "B"})
MAX_REPAIRS = 3
# `€` and `£` are how Tesseract reads a hex `E` on some label fonts: neither is anything else in a MAC.
HEX_REPAIR = str.maketrans({"O": "0", "o": "0", "I": "1", "l": "1", "|": "1", "S": "5", "€": "E", "£": "E"})
# What Tesseract reads between the hex pairs of a MAC address besides the printed `:` or `-`.
MAC_SEPARATORS = re.compile(r"[\s:;.,\-/'‘’`]+")


def repair_digits(raw: str) -> str:
    """`4OO6381333931` → `4006381333931`; used only for fields that are all digits."""
    return raw.translate(TO_DIGIT)


def normalise_mac(raw: str) -> str | None:
    """`3c-52-82-1a-2b-4f`, `3C52821A2B4F`, `3C:52:82:IA:2B:4F` → `3C:52:82:1A:2B:4F`, else None."""
    return canonical_mac(raw.strip().upper().translate(HEX_REPAIR))


def read_mac(raw: str) -> tuple[str | None, int]:
    """A MAC address from what Tesseract read, and how many characters had to be repaired: letters
    that are no hex digit (`O`, `I`, `l`, `S`), separators read as something else (`;`, `.`, `'`) or
    mixed (one repair in all). None when there are not exactly six pairs of hex digits."""
    pairs = [p for p in MAC_SEPARATORS.split(raw.strip()) if p]
    letters = "".join(pairs)
    text = letters.translate(HEX_REPAIR).upper()
    if len(text) != 12 or any(ch not in "0123456789ABCDEF" for ch in text):
        return None, 0
    if len(pairs) > 1 and any(len(p) % 2 for p in pairs):  # a pair split apart: not what was printed
        return None, 0
    repairs = sum(a != b for a, b in zip(letters.upper(), text, strict=True))
    if normalise_mac(raw) is None:
        repairs += 1
    return ":".join(text[i : i + 2] for i in range(0, 12, 2)), repairs


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


# A candidate character the recogniser scored at least this (0..100) is a repair worth trying; one scored
# this close to its choice that also fits the format makes the read ambiguous.
MIN_CHOICE_SCORE = 20.0
CLOSE_CHOICE = 10.0
# What a repair from the confusion table (O→0, I→1, ...) costs against a candidate the recogniser scored
# (its score below the read character's); repairs within CLOSE_REPAIR of each other are a toss-up.
TABLE_COST = 15.0
CLOSE_REPAIR = 5.0

Choices = Sequence[Sequence[tuple[str, float]]]


def choose_to_pattern(raw: str, choices: Choices, pattern: re.Pattern[str]) -> tuple[str | None, bool]:
    """Like `repair_to_pattern`, with the recogniser's own candidates per character (`choices`, aligned
    with `raw`): a character the format forbids becomes the best-scored candidate that fits (an `O`
    that scored a `9` close behind is a 9, not the 0 of the confusion table). Also says whether the read
    is ambiguous: it fits, but so would a close runner-up (`S` at 60, `5` at 55), or two repairs fit
    about as well."""
    if len(choices) != len(raw):
        return repair_to_pattern(raw, pattern), False
    options: list[list[tuple[str, float]]] = []
    for i, ch in enumerate(raw):
        top = choices[i][0][1] if choices[i] else 0.0
        alts = {c.upper(): top - score for c, score in choices[i][1:] if score >= MIN_CHOICE_SCORE}
        swap = ch.translate(TO_DIGIT) if ch.translate(TO_DIGIT) != ch else ch.translate(TO_LETTER)
        if swap != ch:
            alts[swap.upper()] = min(alts.get(swap.upper(), TABLE_COST), TABLE_COST)
        alts.pop(ch.upper(), None)
        options.append(sorted(alts.items(), key=lambda kv: kv[1]))
    if pattern.fullmatch(raw):
        ambiguous = any(
            cost <= CLOSE_CHOICE and pattern.fullmatch(raw[:i] + alt + raw[i + 1 :])
            for i, alts in enumerate(options)
            for alt, cost in alts
        )
        return raw, ambiguous
    swaps = [(i, alt, cost) for i, alts in enumerate(options) for alt, cost in alts]
    for size in range(1, min(len(swaps), MAX_REPAIRS) + 1):
        fits: dict[str, float] = {}
        for chosen in itertools.combinations(swaps, size):
            if len({i for i, _, _ in chosen}) < size:
                continue
            chars = list(raw)
            for i, alt, _ in chosen:
                chars[i] = alt
            trial = "".join(chars)
            if pattern.fullmatch(trial):
                fits[trial] = min(fits.get(trial, 1e9), sum(c for _, _, c in chosen))
        if fits:
            ranked = sorted(fits.items(), key=lambda kv: kv[1])
            return ranked[0][0], len(ranked) > 1 and ranked[1][1] - ranked[0][1] < CLOSE_REPAIR
    return None, False
