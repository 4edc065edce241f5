"""Training data without the gateway, and the measurement: labelled reads of generated labels in the
export format (docs/labels.md), and the rule-based extractor against classifier-ranked extraction on
the same held-out reads (precision and recall per code type)."""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from linesight_core.label_codes import GTIN_TYPES, compact, gtin_valid, token_label
from linesight_ocr.classifier.features import words_from_tokens
from linesight_ocr.classifier.model import TokenModel
from linesight_ocr.domain.extraction import extract_codes
from linesight_ocr.domain.read_label import ReadOptions, read_label
from linesight_ocr.domain.vendors import VendorProfile
from linesight_ocr.synthetic import LabelSpec, corpus_label

MEASURED = ("serial", "part_number", "mac", "gtin", "model")


def labelled_read(
    read_id: str,
    spec: LabelSpec,
    image: Image.Image,
    profiles: Mapping[str, VendorProfile],
    options: ReadOptions,
) -> dict[str, Any]:
    """A generated label read by the service, as the export would carry it once reviewed: the codes a
    reviewer confirms (the label's true values; a GTIN with a wrong check digit cannot be confirmed,
    so it is left out) and every token labelled as the gateway labels it."""
    read, _ = read_label(image, options, profiles)
    truth = {"serial": spec.serial, "part_number": spec.part_number, "mac": spec.mac, "model": spec.model}
    if gtin_valid(spec.ean13):
        truth["ean13"] = spec.ean13
    codes = []
    for code_type, value in truth.items():
        read_from = next((c for c in read.codes if c.type == code_type and c.source != "barcode"), None)
        boxes = [b.model_dump() for b in read_from.token_boxes] if read_from else []
        codes.append({"type": code_type, "value": value, "token_boxes": boxes})
    read_codes = {(c.type, c.value) for c in read.codes}
    return {
        "read_id": read_id,
        "status": "approved" if all((c["type"], c["value"]) in read_codes for c in codes) else "corrected",
        "vendor": read.vendor.id if read.vendor else None,
        "station": None,
        "reviewed_at": None,
        "image_sha256": hashlib.sha256(image.tobytes()).hexdigest(),
        "image_width": image.width,
        "image_height": image.height,
        "codes": [{"type": c["type"], "value": c["value"]} for c in codes],
        "tokens": [{**t, "label": token_label(t, codes)} for t in (t.model_dump() for t in read.tokens)],
    }


def generate_reads(
    count: int, seed: int, profiles: Mapping[str, VendorProfile], options: ReadOptions
) -> Iterator[dict[str, Any]]:
    """Labelled reads of `count` labels of the benchmark corpus (bench/ocr.py) drawn with `seed`."""
    rng = random.Random(seed)  # noqa: S311 - test data, not secrets
    for i in range(count):
        spec, image, _ = corpus_label(rng)
        yield labelled_read(f"synthetic-{seed}-{i}", spec, image, profiles, options)


@dataclass
class Tally:
    tp: Counter[str] = field(default_factory=Counter)
    fp: Counter[str] = field(default_factory=Counter)
    fn: Counter[str] = field(default_factory=Counter)

    def add(self, found: set[tuple[str, str]], truth: set[tuple[str, str]]) -> None:
        for kind in MEASURED:
            got = {v for t, v in found if t == kind}
            want = {v for t, v in truth if t == kind}
            self.tp[kind] += len(got & want)
            self.fp[kind] += len(got - want)
            self.fn[kind] += len(want - got)

    def precision(self, kind: str) -> float:
        return self.tp[kind] / max(self.tp[kind] + self.fp[kind], 1)

    def recall(self, kind: str) -> float:
        return self.tp[kind] / max(self.tp[kind] + self.fn[kind], 1)


def _kind(code_type: str) -> str:
    return "gtin" if code_type in GTIN_TYPES else code_type


def _normal(code_type: str, value: str) -> tuple[str, str]:
    kind = _kind(code_type)
    return kind, " ".join(value.upper().split()) if kind == "model" else compact(value)


def compare(
    reads: Iterable[Mapping[str, Any]], model: TokenModel, profiles: Mapping[str, VendorProfile]
) -> tuple[Tally, Tally, int]:
    """(rules, classifier-ranked, number of reads): codes extracted from each read's tokens both ways,
    against the read's confirmed codes."""
    rules, ranked, count = Tally(), Tally(), 0
    for read in reads:
        tokens = [t for t in read["tokens"] if str(t.get("text", "")).strip()]
        words = words_from_tokens(tokens)
        vendor = profiles.get(str(read.get("vendor"))) if read.get("vendor") else None
        truth = {_normal(c["type"], c["value"]) for c in read["codes"]}
        by_rules = extract_codes(words, vendor)
        by_model = extract_codes(words, vendor, model.scores(words, vendor))
        rules.add({_normal(c.type, c.value) for c in by_rules if c.valid}, truth)
        ranked.add({_normal(c.type, c.value) for c in by_model if c.valid}, truth)
        count += 1
    return rules, ranked, count


def report(rules: Tally, ranked: Tally, count: int) -> list[str]:
    lines = [
        f"held-out reads: {count}",
        f"{'type':<12} {'rules P':>8} {'rules R':>8} {'model P':>8} {'model R':>8}",
    ]
    for kind in MEASURED:
        lines.append(
            f"{kind:<12} {rules.precision(kind):>8.3f} {rules.recall(kind):>8.3f} "
            f"{ranked.precision(kind):>8.3f} {ranked.recall(kind):>8.3f}"
        )
    return lines
