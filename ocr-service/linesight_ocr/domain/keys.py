"""A label's keys (`S/N`, `P/N`, `Model`, `MAC`, `EAN`, ... and the vendor's own) as Tesseract reads them,
and the words of a label grouped into visual lines and split into pieces around a glued colon."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from linesight_core.label_codes import GENERIC_KEYS, KEY_WORDS, compact
from linesight_ocr.domain.codes import confusable
from linesight_ocr.domain.tesseract_pass import Word
from linesight_ocr.domain.vendors import VendorProfile

EDGE_PUNCTUATION = ":;,.()[]{}'\"`‘’“”|!"
KEY_END = ":;.,#'`‘’"
# Tesseract reads the slash of `S/N`, `P/N` as these.
SLASH_MISREADS = ("I", "1", "|", "L", "!")


@dataclass(frozen=True)
class Piece:
    """A word, or one side of a word glued around a colon (`S/N:PF3K9ZQ2`)."""

    text: str
    word: Word

    @property
    def key_form(self) -> str:
        return key_form(self.text)


def is_key_word(text: str) -> bool:
    """A word of some label key (`Service`, `Tag`, `Express`, `Code`): never a value itself."""
    word = compact(text)
    return len(word) >= 3 and word in KEY_WORDS


def key_form(text: str) -> str:
    return text.upper().rstrip(KEY_END).replace(" ", "")


def _key_forms(key: str) -> set[tuple[str, ...]]:
    """The key as words, and as Tesseract misreads its slash (`S/N` → `SIN`, `S1N`)."""
    parts = tuple(key_form(part) for part in key.split())
    forms = {parts}
    for misread in SLASH_MISREADS:
        forms.add(tuple(p.replace("/", misread) if len(p) <= 4 else p for p in parts))
    return forms


def lines_of(words: list[Word]) -> list[list[Word]]:
    """Words grouped into visual lines on the upright page, each left to right."""
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


# A key read with one confused character is still taken for a key when it is this long and ends with a
# colon, as keys on labels do: shorter keys (`SN`, `PIN`) are too easily some value's characters.
FUZZY_KEY_LENGTH = 4
KEY_COLONS = (":", ";")


def _one_confusion(read: str, key: str) -> bool:
    if len(read) != len(key):
        return False
    diffs = [(a, b) for a, b in zip(read, key, strict=True) if a != b]
    return len(diffs) == 1 and confusable(*diffs[0])


class KeyTable:
    """Every key a label may carry, longest first, mapped to the field it names."""

    def __init__(self, vendor: VendorProfile | None) -> None:
        entries: dict[tuple[str, ...], str] = {}
        for field, keys in GENERIC_KEYS.items():
            for key in keys:
                entries.update(dict.fromkeys(_key_forms(key), field))
        if vendor is not None:
            for field, fmt in vendor.fields.items():
                for key in fmt.keys:
                    entries.update(dict.fromkeys(_key_forms(key), field))
        self.entries = sorted(entries.items(), key=lambda kv: -len(kv[0]))
        self.single_words = {form[0] for form in entries if len(form) == 1}

    def match(self, pieces: Sequence[Piece], start: int) -> tuple[str, int] | None:
        """(field, number of pieces) of the longest key starting at `start`; else a one-word key of at
        least FUZZY_KEY_LENGTH characters read with one character confused (`OPIN` for `DP/N`)."""
        for form, field in self.entries:
            span = pieces[start : start + len(form)]
            if len(span) == len(form) and all(p.key_form == k for p, k in zip(span, form, strict=True)):
                return field, len(form)
        if start < len(pieces) and pieces[start].text.rstrip().endswith(KEY_COLONS):
            read = pieces[start].key_form
            for form, field in self.entries:
                if len(form) == 1 and len(form[0]) >= FUZZY_KEY_LENGTH and _one_confusion(read, form[0]):
                    return field, 1
        return None

    def is_key(self, text: str) -> bool:
        return key_form(text) in self.single_words


def pieces_of(words: list[Word], table: KeyTable) -> list[Piece]:
    out = []
    for word in words:
        for sep in (":", ";"):
            left, colon, right = word.text.partition(sep)
            if colon and right and table.is_key(left):
                out.extend((Piece(left + sep, word), Piece(right, word)))
                break
        else:
            out.append(Piece(word.text, word))
    return out
