"""Reads one label end to end: pre-processing, one Tesseract pass, barcodes, code extraction, the merge
of barcode and text reads, and the decision whether a person must review the read."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from linesight_core.contracts.ocr import (
    Barcode,
    LabelCode,
    LabelRead,
    ParseTimings,
    ReviewReason,
    TextBox,
    Token,
    Vendor,
)
from linesight_ocr.domain.extraction import extract_codes
from linesight_ocr.domain.preprocess import prepare
from linesight_ocr.domain.reading import BarcodeHit, Word, read_barcodes, read_words
from linesight_ocr.domain.vendors import VendorProfile, recognise

GTIN_FORMATS = frozenset({"EAN13", "EAN8", "UPCA", "UPCE"})
GTIN_TYPES = frozenset({"ean13", "ean8", "upca", "gtin14"})
BARCODE_CONFIDENCE = 0.95
# Below this Tesseract's orientation guess is a coin toss; a turned page read on it is checked by a person.
MIN_ORIENTATION_CONFIDENCE = 0.5


@dataclass(frozen=True)
class ReadOptions:
    languages: Sequence[str]
    tesseract_timeout: float
    deskew: bool
    review_below: float  # a code under this confidence sends the read to review


def _box(box: tuple[int, int, int, int]) -> TextBox:
    return TextBox(x1=box[0], y1=box[1], x2=box[2], y2=box[3])


def _both(code: LabelCode) -> LabelCode:
    # Two independent readers agreeing: the read is wrong only when both are.
    confidence = 1 - (1 - code.confidence) * (1 - BARCODE_CONFIDENCE)
    return code.model_copy(update={"source": "both", "confidence": round(min(confidence, 0.999), 3)})


def _near_miss(a: str, b: str) -> bool:
    return len(a) == len(b) and 0 < sum(x != y for x, y in zip(a, b, strict=True)) <= 2


def merge_barcodes(
    codes: list[LabelCode], hits: list[BarcodeHit], vendor: VendorProfile | None
) -> tuple[list[LabelCode], list[str]]:
    """Codes with barcode agreement applied, plus one agreement result per barcode."""
    results = []
    for hit in hits:
        if hit.format in GTIN_FORMATS:
            key = hit.text.zfill(14)
            same = [i for i, c in enumerate(codes) if c.type in GTIN_TYPES and c.value.zfill(14) == key]
            others = [i for i, c in enumerate(codes) if c.type in GTIN_TYPES and c.value.zfill(14) != key]
            kind = "ean8" if hit.format == "EAN8" else "upca" if hit.format in ("UPCA", "UPCE") else "ean13"
            value = hit.text[-12:] if kind == "upca" else hit.text
        else:
            text = hit.text.strip().upper()
            same = [i for i, c in enumerate(codes) if c.type not in GTIN_TYPES and c.value.upper() == text]
            others = [
                i
                for i, c in enumerate(codes)
                if c.type not in GTIN_TYPES and _near_miss(c.value.upper(), text)
            ]
            kind, value = "serial", text
            serial = vendor.fields.get("serial") if vendor else None
            if not same and not others and not (serial and serial.pattern and serial.pattern.fullmatch(text)):
                results.append("barcode_only")
                continue
            if not same and not others and any(c.type == "serial" for c in codes):
                results.append("barcode_only")
                continue
        if same:
            for i in same:
                codes[i] = _both(codes[i])
            results.append("agree")
            continue
        for i in others:
            codes[i] = codes[i].model_copy(update={"barcode_disagrees": True})
        results.append("disagree" if others else "barcode_only")
        codes.append(
            LabelCode(
                type=kind,  # type: ignore[arg-type]
                value=value,
                raw=hit.text,
                confidence=BARCODE_CONFIDENCE,
                source="barcode",
                valid=True,  # zxing-cpp checks the symbol's own check digit or error correction
                barcode_disagrees=bool(others),
                token_boxes=[_box(hit.box)],
            )
        )
    return codes, results


def review_reasons(
    codes: list[LabelCode], review_below: float, orientation_doubt: bool
) -> list[ReviewReason]:
    reasons: list[ReviewReason] = []
    if not codes:
        reasons.append("no_codes")
    if any(c.type in GTIN_TYPES and not c.valid for c in codes):
        reasons.append("invalid_checksum")
    if any(c.type not in GTIN_TYPES and not c.valid for c in codes):
        reasons.append("invalid_format")
    if any(c.barcode_disagrees for c in codes):
        reasons.append("barcode_text_disagree")
    if any(c.confidence < review_below for c in codes):
        reasons.append("low_confidence")
    serials = {c.value for c in codes if c.type == "serial" and c.valid}
    if len(serials) > 1:
        reasons.append("conflicting_values")
    if orientation_doubt:
        reasons.append("orientation_uncertain")
    return reasons


def _read_score(words: list[Word]) -> float:
    """Confidence mass of word-like reads: the side a page is upright on reads far better."""
    return sum(w.confidence for w in words if len(w.text) >= 3 and any(c.isalnum() for c in w.text))


def read_label(
    image: Image.Image,
    options: ReadOptions,
    profiles: dict[str, VendorProfile],
    vendor_hint: str | None = None,
    decode_ms: float = 0.0,
) -> tuple[LabelRead, list[str]]:
    """The read, and per barcode whether the printed text agreed with it (for the metrics)."""
    start = time.perf_counter()
    prepared = prepare(image, deskew=options.deskew, timeout=options.tesseract_timeout)
    t_prepared = time.perf_counter()
    words = read_words(prepared, options.languages, options.tesseract_timeout)
    orientation_doubt = prepared.rotation != 0 and (
        prepared.orientation_confidence is None
        or prepared.orientation_confidence < MIN_ORIENTATION_CONFIDENCE
    )
    if orientation_doubt:
        # A weak orientation guess: read the page as uploaded too and keep the better-read side.
        upright = prepare(image, deskew=options.deskew, timeout=options.tesseract_timeout, rotation=0)
        upright_words = read_words(upright, options.languages, options.tesseract_timeout)
        turned_score, upright_score = _read_score(words), _read_score(upright_words)
        if upright_score > turned_score:
            prepared, words = upright, upright_words
        orientation_doubt = abs(upright_score - turned_score) < 0.2 * max(upright_score, turned_score, 1e-9)
    t_ocr = time.perf_counter()
    hits = read_barcodes(image)
    t_barcodes = time.perf_counter()

    hinted = profiles.get(vendor_hint.strip().lower()) if vendor_hint else None
    profile = hinted or recognise(profiles, [w.text for w in words])
    codes = extract_codes(words, profile)
    codes, agreement = merge_barcodes(codes, hits, profile)
    orientation_doubt = prepared.rotation != 0 and (
        prepared.orientation_confidence is None
        or prepared.orientation_confidence < MIN_ORIENTATION_CONFIDENCE
    )
    reasons = review_reasons(codes, options.review_below, orientation_doubt)
    end = time.perf_counter()
    read = LabelRead(
        image_width=image.width,
        image_height=image.height,
        rotation=prepared.rotation,
        deskew_degrees=round(prepared.deskew_degrees, 2),
        vendor=Vendor(id=profile.id, name=profile.name, matched_by="hint" if hinted else "label")
        if profile
        else None,
        codes=codes,
        barcodes=[Barcode(format=h.format, text=h.text, box=_box(h.box)) for h in hits],
        tokens=[
            Token(
                text=w.text, confidence=w.confidence, box=_box(w.box), block=w.block, line=w.line, word=w.word
            )
            for w in words
        ],
        needs_review=bool(reasons),
        review_reasons=reasons,
        timings_ms=ParseTimings(
            decode=round(decode_ms, 1),
            preprocess=round((t_prepared - start) * 1000, 1),
            ocr=round((t_ocr - t_prepared) * 1000, 1),
            barcodes=round((t_barcodes - t_ocr) * 1000, 1),
            extract=round((end - t_barcodes) * 1000, 1),
            total=round(decode_ms + (end - start) * 1000, 1),
        ),
    )
    return read, agreement
