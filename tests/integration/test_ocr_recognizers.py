"""Two recognizers on the real Tesseract and the real RapidOCR (PP-OCR on ONNX Runtime): their reads of a
code aligned character by character, agreement approving, disagreement sent to review with what differed,
barcodes settling a disagreement, keys never taken as values, the read deadline inside RapidOCR, the
reader processes loading RapidOCR once, and the harder generated benchmark's tuning/held-out split."""

import math
import random
import time

import numpy as np
import pytest
import zxingcpp
from PIL import Image, ImageDraw, ImageFont

from linesight_core.contracts.ocr import LabelCode
from linesight_ocr.domain import consensus, rapid
from linesight_ocr.domain.crosschecks import check_express_code, tag_of
from linesight_ocr.domain.preprocess import prepare
from linesight_ocr.domain.read_label import ReadDeadlineExceeded, ReadOptions, read_label
from linesight_ocr.domain.reader_pool import ReaderPool
from linesight_ocr.domain.tesseract_pass import Word
from linesight_ocr.domain.vendors import load_profiles
from linesight_ocr.synthetic import FONT_DIR, random_spec, render
from linesight_ocr.synthetic_hard import (
    HELD_OUT_FONTS,
    TUNING_FONTS,
    express_service_code,
    hard_corpus,
    missing_fonts,
)

pytestmark = pytest.mark.integration

NARROW = "/usr/share/fonts/truetype/liberation/LiberationSansNarrow-Regular.ttf"
BOTH = ("tesseract", "rapidocr")


def options(recognizers=BOTH, deadline=math.inf) -> ReadOptions:
    return ReadOptions(
        languages=["eng"],
        tesseract_timeout=30,
        deskew=False,
        review_below=0.8,
        recognizers=recognizers,
        deadline=deadline,
    )


@pytest.fixture(scope="module")
def profiles():
    rapid.configure("auto", 1)
    return load_profiles()


def hp_label(seed: int):
    """An HP label in a narrow sans where Tesseract reads the serial's `5` as `S` (seed 30)."""
    spec = random_spec(random.Random(seed), "hp")
    spec.barcode, spec.font, spec.font_px = False, NARROW, 20
    return spec, render(spec).convert("RGB")


def codes(read) -> dict[str, object]:
    return {c.type: c for c in read.codes}


def test_a_confusion_of_one_recognizer_is_caught_by_the_other_and_sent_to_review(profiles):
    spec, image = hp_label(30)
    alone, _ = read_label(image, options(("tesseract",)), profiles)
    assert codes(alone)["serial"].value == "0JFSA9RBEL" != spec.serial  # Tesseract alone: S for 5
    read, _ = read_label(image, options(), profiles)
    serial = codes(read)["serial"]
    assert serial.value == spec.serial == "0JF5A9RBEL"  # the read that fits HP's format
    assert serial.alternatives == ["0JFSA9RBEL"]
    assert serial.disagreement == "tesseract read '0JFSA9RBEL', rapidocr read '0JF5A9RBEL': S/5 at 4"
    assert read.needs_review and "recognizers_disagree" in read.review_reasons
    # the codes both read alike carry both as evidence
    assert set(codes(read)["mac"].evidence) >= {"tesseract", "rapidocr"}


def test_a_label_both_recognizers_read_alike_is_approved(profiles):
    spec, image = hp_label(2)
    read, _ = read_label(image, options(), profiles)
    assert {k: codes(read)[k].value for k in spec.expected} == spec.expected
    assert read.review_reasons == [] and not read.needs_review
    assert all({"tesseract", "rapidocr"} <= set(c.evidence) for c in read.codes if c.type != "ean13")


def test_a_code_128_barcode_settles_what_the_recognizers_disagreed_on(profiles):
    spec, image = hp_label(30)
    symbol = zxingcpp.create_barcode(spec.serial, zxingcpp.BarcodeFormat.Code128)
    bars = Image.fromarray(np.array(zxingcpp.write_barcode_to_image(symbol, scale=2))).convert("RGB")
    page = Image.new("RGB", (image.width + bars.width + 40, max(image.height, bars.height + 40)), "white")
    page.paste(image, (0, 0))
    page.paste(bars, (image.width + 20, 20))
    read, agreement = read_label(page, options(), profiles)
    serial = codes(read)["serial"]
    assert serial.value == spec.serial and serial.source == "both" and serial.disagreement is None
    assert "barcode" in serial.evidence and "agree" in agreement
    assert "recognizers_disagree" not in read.review_reasons


def test_the_service_tag_key_is_never_a_value(profiles):
    # the Dell tag under its key, the key's words next to other words the serial format would accept
    image = Image.new("L", (560, 260), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT_DIR + "DejaVuSans.ttf", 24)
    for y, text in ((20, "DELL Latitude"), (70, "Service Tag:"), (110, "7XF1T2B"), (160, "DP/N: 0K3NWJ")):
        draw.text((30, y), text, font=font, fill=0)
    draw.text((30, 210), "Express Service Code:", font=font, fill=0)
    for recognizers in (("tesseract",), ("rapidocr",), BOTH):
        read, _ = read_label(image.convert("RGB"), options(recognizers), profiles)
        serials = [c.value for c in read.codes if c.type == "serial"]
        assert serials == ["7XF1T2B"], (recognizers, serials)


def test_a_label_of_no_known_vendor_goes_to_review(profiles):
    image = Image.new("L", (520, 150), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT_DIR + "DejaVuSans.ttf", 26)
    draw.text((30, 25), "ACME Widget 3000", font=font, fill=0)
    draw.text((30, 80), "S/N: 7XF1T2BQ", font=font, fill=0)
    read, _ = read_label(image.convert("RGB"), options(), profiles)
    assert read.vendor is None
    assert [c.value for c in read.codes if c.type == "serial"] == ["7XF1T2BQ"]
    assert "unknown_vendor" in read.review_reasons


def test_rapidocr_stops_at_the_read_deadline(profiles):
    spec = random_spec(random.Random(4), "lenovo")
    tile = render(spec)
    sheet = Image.new("L", (tile.width * 4, tile.height * 4), 255)
    for i in range(16):
        sheet.paste(tile, ((i % 4) * tile.width, (i // 4) * tile.height))
    sheet = sheet.convert("RGB")
    # stopped inside ONNX Runtime (RunOptions.terminate), not only between steps: 16 labels take seconds
    page = prepare(sheet, deskew=False, barcode_boxes=[])
    with pytest.raises(rapid.RapidDeadline):
        rapid.read_words(page, time.monotonic() + 0.3)
    with pytest.raises(ReadDeadlineExceeded):
        read_label(sheet, options(("rapidocr",), deadline=time.monotonic() + 0.3), profiles)
    # the engine is usable again for the next read
    read, _ = read_label(render(spec).convert("RGB"), options(("rapidocr",)), profiles)
    assert codes(read)["serial"].value == spec.serial


def test_reader_processes_load_rapidocr_once_and_read_with_both():
    pool = ReaderPool(1, rapid_config=("auto", 1))
    try:
        pids = pool.warm()
        _, image = hp_label(2)
        for _ in range(2):
            read, _ = pool.read(image, options(), None, 0.0)
            assert {"tesseract", "rapidocr"} <= set(codes(read)["serial"].evidence)
        assert pool.pids() == pids  # the same process read both: its engine stayed loaded
    finally:
        pool.close()


def test_the_engine_is_loaded_once_per_process(profiles):
    first = rapid.engine()
    assert rapid.engine() is first
    assert first.providers[0] in ("CPUExecutionProvider", "CUDAExecutionProvider")


def test_execution_providers_follow_the_setting():
    cpu_only = ["CPUExecutionProvider"]
    gpu = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert rapid.choose_providers("auto", gpu) == ("CUDAExecutionProvider", "CPUExecutionProvider")
    assert rapid.choose_providers("auto", cpu_only) == ("CPUExecutionProvider",)
    assert rapid.choose_providers("cuda", gpu) == ("CUDAExecutionProvider", "CPUExecutionProvider")
    with pytest.raises(rapid.RapidUnavailable, match="cuda"):
        rapid.choose_providers("cuda", cpu_only)


def test_the_hard_corpus_splits_fonts_layouts_and_seeds():
    assert not missing_fonts("tuning") and not missing_fonts("held-out")
    assert not set(TUNING_FONTS) & set(HELD_OUT_FONTS)
    tuning, held_out = hard_corpus("tuning", 12), hard_corpus("held-out", 12)
    assert {h.faults["layout"] for h in tuning}.isdisjoint({h.faults["layout"] for h in held_out})
    assert {h.spec.serial for h in tuning}.isdisjoint({h.spec.serial for h in held_out})
    again = hard_corpus("held-out", 12)
    assert [h.spec.expected for h in again] == [h.spec.expected for h in held_out]  # reproducible


def dell_label(tag: str, express: str) -> Image.Image:
    image = Image.new("L", (620, 260), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(FONT_DIR + "DejaVuSans.ttf", 24)
    lines = ("DELL Latitude", f"Service Tag: {tag}", f"Express Service Code: {express}", "DP/N: 0K3NWJ")
    for i, text in enumerate(lines):
        draw.text((30, 20 + 55 * i), text, font=font, fill=0)
    return image.convert("RGB")


def test_the_express_service_code_confirms_the_service_tag_it_encodes(profiles):
    tag = "6HALZZ3"
    express = express_service_code(tag)
    assert express == "14106441567" and tag_of(express) == tag
    read, _ = read_label(dell_label(tag, express), options(("tesseract",)), profiles)
    serial = codes(read)["serial"]
    assert serial.value == tag and "express_service_code" in serial.evidence
    # a code for another tag confirms nothing, and the tag is not rewritten to it
    other = express_service_code("9ZZZZZ1")
    read, _ = read_label(dell_label(tag, other), options(("tesseract",)), profiles)
    serial = codes(read)["serial"]
    assert serial.value == tag and "express_service_code" not in serial.evidence


def test_a_tag_read_one_character_off_is_corrected_by_its_express_service_code():
    tag = "6HALZZ3"
    words = [
        Word(t, 0.95, (x, 10, x + 60, 30), (x, 10, x + 60, 30), 1, 1, n)
        for n, (t, x) in enumerate((("Express", 0), ("Service", 70), ("Code:", 140), ("141", 210)), 1)
    ] + [Word("06441567", 0.95, (280, 10, 380, 30), (280, 10, 380, 30), 1, 1, 5)]
    misread = LabelCode(
        type="serial", value="6HALZZ8", raw="6HALZZ8", confidence=0.9, source="ocr", valid=True
    )
    # 8/3 is no OCR confusion: corrected where both recognizers read the code alike
    fixed = check_express_code([misread], words, words)[0]
    assert fixed.value == tag and fixed.repaired and fixed.alternatives == ["6HALZZ8"]
    assert consensus.earned(fixed)
    # one recognizer's read of the code alone: a misread digit of it could have moved the tag
    assert check_express_code([misread], words, [])[0].value == "6HALZZ8"
    far = misread.model_copy(update={"value": "XXXXZZ8"})
    assert check_express_code([far], words, words)[0].value == "XXXXZZ8"  # too far off: left for review
