"""Vendor profiles: one YAML file per vendor in linesight_ocr/vendors/ says how to recognise the vendor
on a label, which keys it prints and what its serial and part numbers look like."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from linesight_ocr.domain.codes import confusable

VENDOR_DIR = Path(__file__).resolve().parent.parent / "vendors"
FIELDS = ("serial", "part_number", "model")


class VendorProfileInvalid(ValueError):
    """A vendor file does not have the shape this module reads."""


@dataclass(frozen=True)
class FieldFormat:
    keys: tuple[str, ...]
    pattern: re.Pattern[str] | None  # full-match pattern of the value, None: any plausible code
    expected: bool = False  # the vendor's labels carry it: a read without it goes to review


@dataclass(frozen=True)
class VendorProfile:
    id: str
    name: str
    words: tuple[str, ...]  # upper case; any one of them on the label recognises the vendor
    fields: dict[str, FieldFormat] = field(default_factory=dict)
    # full-match patterns (upper case) of the vendor's model names (`U6-PRO`): a word that is one counts
    models: tuple[re.Pattern[str], ...] = ()


def _field(vendor: str, name: str, spec: object) -> FieldFormat:
    if not isinstance(spec, dict):
        raise VendorProfileInvalid(f"{vendor}: '{name}' must be a mapping with keys and regex")
    keys = tuple(str(k) for k in spec.get("keys", []))
    regex = spec.get("regex")
    try:
        pattern = re.compile(str(regex)) if regex else None
    except re.error as exc:
        raise VendorProfileInvalid(f"{vendor}: '{name}.regex' is not a regular expression: {exc}") from exc
    expected = spec.get("expected", False)
    if not isinstance(expected, bool):
        raise VendorProfileInvalid(f"{vendor}: '{name}.expected' must be true or false")
    return FieldFormat(keys=keys, pattern=pattern, expected=expected)


def load_profile(path: Path) -> VendorProfile:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not data.get("id") or not data.get("name"):
        raise VendorProfileInvalid(f"{path.name}: needs at least 'id' and 'name'")
    words = tuple(str(w).upper() for w in (data.get("recognise") or {}).get("words", []))
    if not words:
        raise VendorProfileInvalid(f"{path.name}: 'recognise.words' lists no word to recognise the vendor by")
    fields = {name: _field(data["id"], name, data[name]) for name in FIELDS if name in data}
    models = []
    for regex in (data.get("recognise") or {}).get("models", []):
        try:
            models.append(re.compile(str(regex)))
        except re.error as exc:
            raise VendorProfileInvalid(
                f"{path.name}: 'recognise.models' has a bad pattern {regex!r}: {exc}"
            ) from exc
    return VendorProfile(
        id=str(data["id"]), name=str(data["name"]), words=words, fields=fields, models=tuple(models)
    )


def load_profiles(folder: Path = VENDOR_DIR) -> dict[str, VendorProfile]:
    profiles = [load_profile(p) for p in sorted(folder.glob("*.y*ml"))]
    return {p.id: p for p in profiles}


CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+")
# A brand or product word at least this long is still recognised with one character misread
# (`UBIQU1TI`), or glued to what follows it (`UNIFIAP`, `OPTIPLEX7090`, `THINKPADT14GEN3`).
FUZZY_WORD_LENGTH = 5
# ... and one this long with any one character misread (`-ATITUDE` of an upside-down `Latitude`): one
# character off a word of eight or more letters is no other word.
LONG_WORD_LENGTH = 8


def _names(profile: VendorProfile, word: str) -> bool:
    """`word` (upper case) names the vendor: one of its words, or a model name of its."""
    if word in profile.words or any(p.fullmatch(word) for p in profile.models):
        return True
    for name in profile.words:
        if len(name) < FUZZY_WORD_LENGTH:
            continue
        if word.startswith(name) or (len(word) == len(name) and _one_confusion(word, name)):
            return True
        if len(name) >= LONG_WORD_LENGTH and len(word) == len(name):
            if sum(a != b for a, b in zip(word, name, strict=True)) == 1:
                return True
    return False


def recognise(profiles: dict[str, VendorProfile], words: list[str]) -> VendorProfile | None:
    """The vendor whose brand, product or model words appear most often among the label's words (ties:
    first by id)."""
    # RapidOCR drops spaces (`DELLLatitude`): the word's capitalised parts count too
    parts = [p for w in words for p in CAMEL.findall(w) if p != w]
    seen = [w.upper().strip(":.,;()[]") for w in (*words, *parts)]
    best, best_hits = None, 0
    for profile in profiles.values():
        hits = sum(1 for w in seen if w and _names(profile, w))
        if hits > best_hits:
            best, best_hits = profile, hits
    return best


def _one_confusion(read: str, name: str) -> bool:
    diffs = [(a, b) for a, b in zip(read, name, strict=True) if a != b]
    return len(diffs) == 1 and confusable(*diffs[0])
