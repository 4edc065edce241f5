"""Reads one label end to end: pre-processing, one Tesseract pass, barcodes, code extraction, the merge
of barcode and text reads, and the decision whether a person must review the read."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

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
from linesight_ocr.domain import consensus, line_reads, rapid
from linesight_ocr.domain.codes import confusable
from linesight_ocr.domain.crosschecks import check_express_code
from linesight_ocr.domain.extraction import TokenScores, extract_codes, make_code
from linesight_ocr.domain.glyph_check import check_glyphs
from linesight_ocr.domain.line_look import GlyphVote, LineLook
from linesight_ocr.domain.preprocess import Prepared, prepare
from linesight_ocr.domain.second_read import reread
from linesight_ocr.domain.tesseract_pass import (
    BarcodeHit,
    Word,
    page_rotation,
    read_barcodes,
    read_quality,
    read_words,
)
from linesight_ocr.domain.vendors import VendorProfile, recognise

TokenScorer = Callable[[list[Word], VendorProfile | None], TokenScores]
GTIN_FORMATS = frozenset({"EAN13", "EAN8", "UPCA", "UPCE"})
GTIN_TYPES = frozenset({"ean13", "ean8", "upca", "gtin14"})
BARCODE_CONFIDENCE = 0.95
# Text read at different angles on one label: some of it was probably read the wrong way up.
MIN_ORIENTATION_AGREEMENT = 0.8
MIN_READ_QUALITY = 0.45
# A value only the second read got valid: the two reads disagreed.
SECOND_READ_PENALTY = 0.85
# RapidOCR reads bars as short scraps (`II`): text is read when a word has this many characters.
MIN_TEXT = 3


class ReadDeadlineExceeded(RuntimeError):
    """The whole read (barcodes, orientation, second reads) ran past its deadline."""


@dataclass(frozen=True)
class ReadOptions:
    languages: Sequence[str]
    tesseract_timeout: float
    deskew: bool
    review_below: float  # a code under this confidence sends the read to review
    # The prepared image (after upscaling small text) is never larger than this; bigger is scaled down.
    max_pixels: int = 40_000_000
    # time.monotonic() past which the read stops (set by the reader process; none: no deadline).
    deadline: float = math.inf
    # "tesseract", "rapidocr" or both: with both, a code is approved only when evidence agrees on it.
    recognizers: tuple[str, ...] = ("tesseract",)
    # With both, Tesseract and RapidOCR's line crops: "look", its page pass first and the line crops
    # read where the two differ or only RapidOCR read a code (line_look); "only", the line crops instead
    # of the page pass; "off", the page pass alone.
    tesseract_lines: str = "look"

    def timeout(self) -> float:
        """The limit for the next recognition: Tesseract's own, cut to what is left before the deadline;
        raises ReadDeadlineExceeded when nothing is left, so the read stops between its steps."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ReadDeadlineExceeded("the read ran past its deadline")
        return min(self.tesseract_timeout, left)


def _box(box: tuple[int, int, int, int]) -> TextBox:
    return TextBox(x1=box[0], y1=box[1], x2=box[2], y2=box[3])


def _both(code: LabelCode) -> LabelCode:
    # Two independent readers agreeing: the read is wrong only when both are.
    confidence = 1 - (1 - code.confidence) * (1 - BARCODE_CONFIDENCE)
    update = {"source": "both", "confidence": round(min(confidence, 0.999), 3), "disagreement": None}
    update["evidence"] = [*code.evidence, consensus.BARCODE]
    return code.model_copy(update=update)


def _near_miss(a: str, b: str) -> bool:
    return len(a) == len(b) and 0 < sum(x != y for x, y in zip(a, b, strict=True)) <= 2


def _misread_of(read: str, printed: str) -> bool:
    """`read` differs from `printed` in one or two characters, each a pair OCR confuses."""
    if not _near_miss(read, printed):
        return False
    return all(confusable(a, b) for a, b in zip(read, printed, strict=True) if a != b)


def _fits(code: LabelCode, value: str, vendor: VendorProfile | None) -> bool:
    fmt = vendor.fields.get(code.type) if vendor else None
    return fmt is None or fmt.pattern is None or bool(fmt.pattern.fullmatch(value))


def _confirmed(code: LabelCode, value: str, kind: str) -> LabelCode:
    """A text read the barcode corrects: the barcode's value, the text's place on the label."""
    update = {"value": value, "source": "both", "repaired": True, "valid": True, "disagreement": None}
    update["confidence"] = BARCODE_CONFIDENCE
    update["evidence"] = [*code.evidence, consensus.BARCODE]
    if code.type in GTIN_TYPES:
        update["type"] = kind
    return code.model_copy(update=update)


def _settle(codes: list[LabelCode], gtin: bool, text: str) -> None:
    """A code the recognizers read differently whose other reading is the barcode's: that reading."""

    def same(value: str) -> bool:
        return value.zfill(14) == text.zfill(14) if gtin else value.upper() == text.upper()

    for i, c in enumerate(codes):
        if (c.type in GTIN_TYPES) == gtin and not same(c.value) and any(same(a) for a in c.alternatives):
            value = next(a for a in c.alternatives if same(a))
            codes[i] = c.model_copy(update={"value": value, "alternatives": [c.value], "valid": True})


def _decode_read(hit: BarcodeHit, codes: list[LabelCode]) -> BarcodeHit:
    """A symbol decoded two ways (reading.read_barcodes): the decode the printed text agrees with."""
    if not hit.alternatives:
        return hit
    gtin = hit.format in GTIN_FORMATS
    values = {c.value.zfill(14) if gtin else c.value.upper() for c in codes if (c.type in GTIN_TYPES) == gtin}
    for decode in (hit.text, *hit.alternatives):
        if (decode.zfill(14) if gtin else decode.strip().upper()) in values:
            return replace(hit, text=decode)
    return hit


def merge_barcodes(
    codes: list[LabelCode], hits: list[BarcodeHit], vendor: VendorProfile | None
) -> tuple[list[LabelCode], list[str]]:
    """Codes with barcode agreement applied, plus one agreement result per barcode."""
    results = []
    for hit in hits:
        hit = _decode_read(hit, codes)
        if hit.format in GTIN_FORMATS:
            key = hit.text.zfill(14)
            _settle(codes, True, hit.text)
            same = [i for i, c in enumerate(codes) if c.type in GTIN_TYPES and c.value.zfill(14) == key]
            others = [i for i, c in enumerate(codes) if c.type in GTIN_TYPES and c.value.zfill(14) != key]
            kind = "ean8" if hit.format == "EAN8" else "upca" if hit.format in ("UPCA", "UPCE") else "ean13"
            value = hit.text[-12:] if kind == "upca" else hit.text
        else:
            text = hit.text.strip().upper()
            _settle(codes, False, text)
            same = [i for i, c in enumerate(codes) if c.type not in GTIN_TYPES and c.value.upper() == text]
            others = [
                i
                for i, c in enumerate(codes)
                if c.type not in GTIN_TYPES and _near_miss(c.value.upper(), text)
            ]
            # a barcode near one kind of code (a part number's Code 128) is of that kind, else a serial
            near = {codes[i].type for i in others}
            kind, value = (near.pop() if len(near) == 1 else "serial"), text
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
        # The printed text read with a typical OCR confusion (or a GTIN whose read digits fail their
        # check digit): the barcode, checked by its own check digit, says what was printed.
        if hit.format in GTIN_FORMATS:
            misread = [i for i in others if not codes[i].valid and _near_miss(codes[i].value.zfill(14), key)]
        else:
            misread = [
                i
                for i in others
                if _misread_of(codes[i].value.upper(), text) and _fits(codes[i], text, vendor)
            ]
        if len(misread) == 1 and len(others) == 1:
            codes[misread[0]] = _confirmed(codes[misread[0]], value, kind)
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


def second_read(
    codes: list[LabelCode],
    words: list[Word],
    prepared: Prepared,
    vendor: VendorProfile | None,
    options: ReadOptions,
) -> list[LabelCode]:
    """Invalid serials, part numbers, MACs and GTINs read once more from their own crops (one more
    Tesseract run for all of them, only on labels that have one); a second read that is valid replaces
    the first, at a lower confidence than a first read that was valid."""
    by_box = {w.box: w for w in words}
    doubtful = []
    for i, code in enumerate(codes):
        if code.valid or code.source != "ocr" or code.type == "model":
            continue
        value_words = [by_box.get((b.x1, b.y1, b.x2, b.y2)) for b in code.token_boxes]
        if value_words and all(w is not None for w in value_words):
            doubtful.append((i, [w for w in value_words if w is not None]))
    if not doubtful:
        return codes
    reads = reread(prepared, [ws for _, ws in doubtful], options.languages, options.timeout())
    codes = list(codes)
    for (i, value_words), found in zip(doubtful, reads, strict=True):
        if found is None:
            continue
        first = codes[i]
        field = "gtin" if first.type in GTIN_TYPES else first.type
        again = make_code(
            field,
            first.key,
            found[0],
            value_words,
            vendor,
            penalty=SECOND_READ_PENALTY,
            read_confidence=found[1],
        )
        if again is not None and again.valid and (field != "gtin" or again.type == first.type):
            codes[i] = again.model_copy(update={"raw": first.raw, "repaired": True})
    return codes


# Look-alikes both recognizers misread the same way (the 0 and O of most sans fonts). Where a format
# excludes one of them, the format repairs it; where it allows both, only a barcode or a cross-check can
# tell them apart.
LOOK_ALIKES = {"O": "0", "0": "O", "I": "1", "1": "I"}
CONFIRMED_BEYOND_OCR = frozenset({consensus.BARCODE, consensus.EXPRESS_SERVICE_CODE, consensus.CHECK_DIGIT})


def look_alikes(code: LabelCode, vendor: VendorProfile | None) -> list[str]:
    """The values `code` might as well be, one look-alike swapped, that its vendor's format also allows;
    none when something beyond OCR confirms it (a barcode, the Express Service Code)."""
    fmt = vendor.fields.get(code.type) if vendor else None
    if fmt is None or fmt.pattern is None or code.source != "ocr":
        return []
    if CONFIRMED_BEYOND_OCR & set(code.evidence):
        return []
    out = []
    for i, ch in enumerate(code.value):
        other = LOOK_ALIKES.get(ch)
        swapped = code.value[:i] + other + code.value[i + 1 :] if other else None
        if swapped and fmt.pattern.fullmatch(swapped):
            out.append(swapped)
    return out


def mark_look_alikes(codes: list[LabelCode], vendor: VendorProfile | None) -> list[LabelCode]:
    """Codes with the look-alike readings their format allows among their alternatives."""
    out = []
    for code in codes:
        others = [v for v in look_alikes(code, vendor) if v not in code.alternatives]
        out.append(
            code.model_copy(update={"alternatives": [*code.alternatives, *others]}) if others else code
        )
    return out


def review_reasons(
    codes: list[LabelCode],
    review_below: float,
    orientation_doubt: bool,
    vendor: VendorProfile | None = None,
    text_read: bool = True,
    earned_only: bool = False,
) -> list[ReviewReason]:
    """`earned_only` (two recognizers): a code also needs independent evidence (consensus.earned), and
    a label of no known vendor goes to review."""
    reasons: list[ReviewReason] = []
    if not codes:
        reasons.append("no_codes")
    if any(c.type in GTIN_TYPES and not c.valid for c in codes):
        reasons.append("invalid_checksum")
    if any(c.type not in GTIN_TYPES and not c.valid for c in codes):
        reasons.append("invalid_format")
    if any(c.barcode_disagrees for c in codes):
        reasons.append("barcode_text_disagree")
    # with two recognizers, a code independent evidence agrees on is not doubted for its confidence
    if any(c.confidence < review_below and not (earned_only and consensus.earned(c)) for c in codes):
        reasons.append("low_confidence")
    serials = {c.value for c in codes if c.type == "serial" and c.valid}
    if len(serials) > 1:
        reasons.append("conflicting_values")
    if orientation_doubt:
        reasons.append("orientation_uncertain")
    if codes and missing_codes(codes, vendor):
        reasons.append("missing_codes")
    if codes and not text_read:
        reasons.append("no_text")  # barcodes alone: nothing printed confirms them
    if earned_only:
        if any(c.disagreement for c in codes):
            reasons.append("recognizers_disagree")
        if any(not c.disagreement and not consensus.earned(c) for c in codes):
            reasons.append("unconfirmed")
        if codes and vendor is None:
            reasons.append("unknown_vendor")
        if any(look_alikes(c, vendor) for c in codes):
            reasons.append("ambiguous_characters")
    return reasons


def missing_codes(codes: list[LabelCode], vendor: VendorProfile | None) -> list[str]:
    """The fields the vendor's labels carry (`expected: true` in its profile) that the read did not find:
    a label read half is not a label read."""
    if vendor is None:
        return []
    found = {c.type for c in codes}
    return [name for name, fmt in vendor.fields.items() if fmt.expected and name not in found]


def _tesseract_pass(
    prepared: Prepared, options: ReadOptions, turn: int | None = None
) -> tuple[Prepared, list[Word], int, bool]:
    """One page pass with orientation detection; again turned over when it reads as upside down.
    `turn`: the page is known to be upright once turned so far clockwise (RapidOCR's lines said so):
    one pass without orientation detection."""
    if turn is not None:
        prepared = prepared.turned(turn)
        words = read_words(prepared, options.languages, options.timeout(), upright=True)
        rotation, agreeing = page_rotation(words)
        return prepared, words, rotation, agreeing < MIN_ORIENTATION_AGREEMENT
    words = read_words(prepared, options.languages, options.timeout())
    rotation, agreeing = page_rotation(words)
    if len(words) >= 3 and read_quality(words) < MIN_READ_QUALITY:
        # Orientation detection probably turned the page the wrong way up: read it the other way.
        turned = prepared.turned(rotation + 180)
        turned_words = read_words(turned, options.languages, options.timeout(), upright=True)
        if read_quality(turned_words) > read_quality(words):
            prepared, words = turned, turned_words
            rotation, agreeing = page_rotation(words)
    return prepared, words, rotation, agreeing < MIN_ORIENTATION_AGREEMENT


def read_rapid(page: Prepared, options: ReadOptions) -> tuple[Prepared, list[rapid.RapidLine]]:
    """RapidOCR's lines of the page (barcodes blanked) at the upload's scale, and that page: its
    detector sizes text itself, and Tesseract's upscaling would only cost it time."""
    if page.scale > 1:
        w, h = page.image.size
        small = page.image.resize((round(w / page.scale), round(h / page.scale)), Image.Resampling.BILINEAR)
        page = replace(page, image=small, scale=1.0, scaled_size=small.size)
    options.timeout()  # nothing left: stop before starting
    try:
        return page, rapid.read_lines(page, options.deadline)
    except rapid.RapidDeadline as exc:
        raise ReadDeadlineExceeded("the read ran past its deadline") from exc


def tesseract_on_lines(
    page: Prepared, lines: list[rapid.RapidLine], options: ReadOptions
) -> tuple[list[Word], GlyphVote]:
    """Tesseract's words of RapidOCR's line crops, laid out on `page` as RapidOCR's words are, and the
    glyph-by-glyph look at the codes it reads differently from RapidOCR."""
    reads = line_reads.read_lines(lines, options.languages, options.timeout)
    words = rapid.line_words(lines, page, [r.spans for r in reads])
    return words, GlyphVote(words, reads, options.languages, options.timeout)


def read_label(
    image: Image.Image,
    options: ReadOptions,
    profiles: dict[str, VendorProfile],
    vendor_hint: str | None = None,
    decode_ms: float = 0.0,
    token_scorer: TokenScorer | None = None,
) -> tuple[LabelRead, list[str]]:
    """The read, and per barcode whether the printed text agreed with it (for the metrics).
    `token_scorer`: a trained token classifier ranking the code candidates, else the rules do."""
    start = time.perf_counter()
    # Barcodes first: they are blanked before Tesseract reads the page, and confirm the text after.
    hits = read_barcodes(image)
    t_barcodes = time.perf_counter()
    prepared = prepare(
        image, deskew=options.deskew, barcode_boxes=[h.box for h in hits], max_pixels=options.max_pixels
    )
    page = prepared
    t_prepared = time.perf_counter()
    words: list[Word] = []
    rotation, orientation_doubt = 0, False
    rapid_words: list[Word] = []
    both = {"tesseract", "rapidocr"} <= set(options.recognizers)
    on_lines = both and options.tesseract_lines == "only"
    settle: consensus.Settle | None = None
    lines: list[rapid.RapidLine] = []
    if "rapidocr" in options.recognizers:
        small, lines = read_rapid(page, options)
        rapid_words = rapid.line_words(lines, small)
        rotation = rapid_words[0].rotation if rapid_words else 0
        if on_lines:
            words, settle = tesseract_on_lines(small, lines, options)
    if "tesseract" in options.recognizers and not on_lines:
        # with RapidOCR's lines, which way is up is known: Tesseract's orientation detection is not needed
        turn = rapid.page_turn(lines) if lines else None
        prepared, words, rotation, orientation_doubt = _tesseract_pass(prepared, options, turn)
    t_ocr = time.perf_counter()

    hinted = profiles.get(vendor_hint.strip().lower()) if vendor_hint else None
    profile = hinted or recognise(profiles, [w.text for w in (*words, *rapid_words)])
    if both and options.tesseract_lines == "look":
        settle = LineLook(small, lines, profile, options.languages, options.timeout)
    codes: list[LabelCode] = []
    if on_lines:
        codes = extract_codes(consensus.unglue(words, profile), profile)
    elif words:
        scores = token_scorer(words, profile) if token_scorer is not None else None
        codes = extract_codes(words, profile, scores)
        codes = second_read(codes, words, prepared, profile, options)
        codes = check_glyphs(codes, words, prepared, profile, options.languages, options.timeout())
    if "rapidocr" in options.recognizers:
        rapid_codes = extract_codes(consensus.unglue(rapid_words, profile), profile)
        if "tesseract" in options.recognizers:
            codes = consensus.combine(codes, rapid_codes, words, rapid_words, settle)
        else:
            codes = rapid_codes
    codes = check_express_code(codes, words, rapid_words)
    codes, agreement = merge_barcodes(codes, hits, profile)
    if both:
        codes = mark_look_alikes(codes, profile)
    text_read = bool(words) or any(len(w.text) >= MIN_TEXT for w in rapid_words)
    reasons = review_reasons(
        codes, options.review_below, orientation_doubt, profile, text_read, earned_only=both
    )
    if "tesseract" not in options.recognizers:
        words = rapid_words  # the tokens of a read without Tesseract
    end = time.perf_counter()
    read = LabelRead(
        image_width=image.width,
        image_height=image.height,
        rotation=rotation,
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
            preprocess=round((t_prepared - t_barcodes) * 1000, 1),
            ocr=round((t_ocr - t_prepared) * 1000, 1),
            barcodes=round((t_barcodes - start) * 1000, 1),
            extract=round((end - t_ocr) * 1000, 1),
            total=round(decode_ms + (end - start) * 1000, 1),
        ),
    )
    return read, agreement
