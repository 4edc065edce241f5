"""Tesseract reading RapidOCR's line crops (real Tesseract, real RapidOCR): its own words of each line,
the codes both then read alike approved, a short key the angle classifier left upside down turned with
the rest of the label, and a glyph read alone settling a confusion between the two."""

import math

import cv2
import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from linesight_ocr.domain import line_reads, rapid
from linesight_ocr.domain.preprocess import prepare
from linesight_ocr.domain.read_label import ReadOptions, read_label, read_rapid
from linesight_ocr.domain.vendors import load_profiles
from linesight_ocr.synthetic import FONT_DIR

pytestmark = pytest.mark.integration

FONT = FONT_DIR + "DejaVuSans.ttf"
LINES = ("Lenovo ThinkPad", "Model: ThinkPad T14 Gen 3", "S/N: PF3K9ZQ2", "MAC: 3C:52:82:1A:2B:4F")


def options(**extra) -> ReadOptions:
    return ReadOptions(
        languages=["eng"],
        tesseract_timeout=30,
        deskew=False,
        review_below=0.8,
        recognizers=("tesseract", "rapidocr"),
        deadline=math.inf,
        **extra,
    )


def label(lines=LINES, size=26, turn=0) -> Image.Image:
    font = ImageFont.truetype(FONT, size)
    image = Image.new("L", (40 + max(round(font.getlength(t)) for t in lines), 30 + 50 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(lines):
        draw.text((20, 15 + 50 * i), text, font=font, fill=0)
    return image.rotate(-turn, expand=True, fillcolor=255).convert("RGB")


@pytest.fixture(scope="module")
def profiles():
    rapid.configure("auto", 1)
    return load_profiles()


def test_tesseract_reads_each_line_rapidocr_found_with_its_own_recogniser(profiles):
    image = label()
    page = prepare(image, deskew=False)
    _, lines = read_rapid(page, options())
    reads = line_reads.read_lines(lines, ["eng"], lambda: 30.0)
    by_rapid = {
        line.text: " ".join(s[0] for s in read.spans) for line, read in zip(lines, reads, strict=True)
    }
    # RapidOCR drops the spaces of a model line; Tesseract, reading the same crop, keeps them
    model = next(t for r, t in by_rapid.items() if r.replace(" ", "").startswith("Model:ThinkPad"))
    assert model == "Model: ThinkPad T14 Gen 3"
    assert "S/N: PF3K9ZQ2" in by_rapid.values()
    # each word knows where it lies along its line, left to right
    for read in reads:
        starts = [s[2] for s in read.spans]
        assert starts == sorted(starts) and all(0 <= s[2] < s[3] <= 1 for s in read.spans)


@pytest.mark.parametrize("lines", ["look", "only", "off"])
def test_codes_both_recognizers_read_alike_are_approved_whichever_way_tesseract_reads(profiles, lines):
    read, _ = read_label(label(), options(tesseract_lines=lines), profiles)
    codes = {c.type: c for c in read.codes}
    assert codes["serial"].value == "PF3K9ZQ2" and codes["mac"].value == "3C:52:82:1A:2B:4F"
    assert all({"tesseract", "rapidocr"} <= set(c.evidence) for c in read.codes)
    # the Lenovo profile expects a part number this label lacks: that, and only that, is for review
    assert read.review_reasons == ["missing_codes"]


def test_a_short_key_the_classifier_left_upside_down_is_turned_with_the_rest_of_the_label():
    eng = rapid.engine()
    font = ImageFont.truetype(FONT, 26)

    def crop(text: str) -> np.ndarray:
        image = Image.new("RGB", (round(font.getlength(text)) + 16, 40), "white")
        ImageDraw.Draw(image).text((8, 4), text, font=font, fill="black")
        return np.asarray(image)[:, :, ::-1].copy()

    quad = np.array([[0, 0], [10, 0], [10, 10], [0, 10]], dtype=np.float32)
    lines = [
        rapid.RapidLine("HP EliteBook", 0.95, quad, 180, crop("HP EliteBook")),
        rapid.RapidLine("WW5ZF8N1LR", 0.95, quad, 180, crop("WW5ZF8N1LR")),
        # the key's crop as the classifier left it: not turned over, so it reads backwards
        rapid.RapidLine(":N/S", 0.9, quad, 0, cv2.rotate(crop("S/N:"), cv2.ROTATE_180)),
    ]
    fixed = rapid._one_way_up(eng.ocr, lines)
    assert [line.text for line in fixed] == ["HP EliteBook", "WW5ZF8N1LR", "S/N:"]
    assert {line.turn for line in fixed} == {180}
    # a label whose text runs both ways about equally is left as it was read
    split = [lines[0], rapid.RapidLine("WW5ZF8N1LR", 0.95, quad, 0, crop("WW5ZF8N1LR"))]
    assert rapid._one_way_up(eng.ocr, split) == split


@pytest.mark.parametrize(
    ("printed", "tesseract", "rapidocr", "settled"),
    [
        # Tesseract's line read said 8 and 0 where B and D are printed: alone, the glyphs read as printed
        ("FE:5D:04:9B:4D:78", "FE:5D:04:98:40:78", "FE:5D:04:9B:4D:78", True),
        # printed as Tesseract read it: RapidOCR's B and D find no glyph that agrees
        ("FE:5D:04:98:40:78", "FE:5D:04:98:40:78", "FE:5D:04:9B:4D:78", False),
    ],
)
def test_glyphs_read_alone_settle_a_confusion_only_where_they_agree_with_the_other_read(
    profiles, printed, tesseract, rapidocr, settled
):
    from linesight_ocr.domain.extraction import extract_codes
    from linesight_ocr.domain.line_look import GlyphVote

    page = prepare(label(("Ubiquiti UniFi", f"MAC: {printed}")), deskew=False)
    small, lines = read_rapid(page, options())
    reads = line_reads.read_lines(lines, ["eng"], lambda: 30.0)
    words = rapid.line_words(lines, small, [r.spans for r in reads])
    mac = next(c for c in extract_codes(words, profiles["ubiquiti"]) if c.type == "mac")
    assert mac.value == printed  # what Tesseract read; the test then gives it the misread to settle
    vote = GlyphVote(words, reads, ["eng"], lambda: 30.0)
    again = vote(mac.model_copy(update={"value": tesseract}), mac.model_copy(update={"value": rapidocr}))
    assert (again is not None and again.value == rapidocr) is settled


def test_an_ean_the_default_binarizer_misdecodes_is_settled_by_the_printed_text(profiles):
    from linesight_ocr.domain.tesseract_pass import read_barcodes
    from linesight_ocr.synthetic_hard import hard_corpus

    # a blurred tuning-set label whose EAN-13 zxing-cpp's local-average binarizer decodes as another
    # number with a valid check digit; a fixed threshold decodes it as printed
    hard = hard_corpus("tuning", 17, 11)[16]
    ean = next(h for h in read_barcodes(hard.image) if h.format == "EAN13")
    assert ean.text != hard.spec.ean13 and hard.spec.ean13 in ean.alternatives
    read, agreement = read_label(hard.image, options(), profiles)
    eans = [c for c in read.codes if c.type == "ean13"]
    assert [c.value for c in eans] == [hard.spec.ean13] and eans[0].source == "both"
    assert "barcode_text_disagree" not in read.review_reasons and "disagree" not in agreement
