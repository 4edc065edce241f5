"""Tesseract inside the OCR service (tesserocr): concurrent reads on pooled engines, the time limit, and
the second look at confusable characters of serials and part numbers, all on the real engine."""

import random
import threading

import pytest
from PIL import Image, ImageDraw, ImageFont

from linesight_ocr.domain import engine
from linesight_ocr.domain.glyph_check import recheck_value, segment, split_to
from linesight_ocr.domain.read_label import ReadOptions, read_label
from linesight_ocr.domain.vendors import load_profiles
from linesight_ocr.synthetic import FONT_DIR, random_spec, render

pytestmark = pytest.mark.integration

OPTIONS = ReadOptions(languages=["eng"], tesseract_timeout=30, deskew=False, review_below=0.8)


def printed(text: str, font: str = "DejaVuSans.ttf", size: int = 30) -> Image.Image:
    face = ImageFont.truetype(FONT_DIR + font, size)
    image = Image.new("L", (round(face.getlength(text)) + 20, size + 16), 255)
    ImageDraw.Draw(image).text((10, 6), text, font=face, fill=0)
    return image


def test_a_character_read_alone_overrules_its_confusable_partner():
    crop = printed("ZYK5N6")
    # the page read took the 5 for an S: read alone, the glyph is a 5
    assert recheck_value("ZYKSN6", crop, ["eng"], 10) == ("ZYK5N6", 1)
    # a value that was read right stays as it is
    assert recheck_value("ZYK5N6", crop, ["eng"], 10) == ("ZYK5N6", 0)
    # and a printed S stays an S
    assert recheck_value("ZYKSN6", printed("ZYKSN6"), ["eng"], 10) == ("ZYKSN6", 0)


def test_characters_that_are_not_confusable_are_never_changed():
    crop = printed("K54B391MQW")
    # `A` has no confusable partner: even a wrong value keeps it (only 5/S, 8/B, 9/Q, ... are looked at)
    assert recheck_value("KA4B391MQW", crop, ["eng"], 10)[0][1] == "A"


def test_segmentation_finds_one_box_per_printed_character():
    boxes = segment(printed("K54B391MQW"))
    assert len(boxes) == 10
    assert [b[0] for b in boxes] == sorted(b[0] for b in boxes)
    assert len(segment(printed("#-1"))) == 3


def test_touching_glyphs_are_split_at_the_line_pitch():
    # three characters of which the first two touch: the wide box holds two at the mean width
    assert split_to([(0, 0, 40, 10), (42, 0, 62, 10)], 3) == [
        (0, 0, 20, 10),
        (20, 0, 40, 10),
        (42, 0, 62, 10),
    ]
    # widths that do not add up to the value's length give no boxes rather than wrong ones
    assert split_to([(0, 0, 10, 10), (12, 0, 22, 10)], 5) is None
    assert split_to([(0, 0, 10, 10)] * 4, 3) is None


def test_a_read_past_its_time_limit_is_cancelled():
    spec = random_spec(random.Random(3))
    big = render(spec).resize((4000, 3000))
    with pytest.raises(engine.TesseractTimeout, match=r"within 0\.001 s"):
        read_label(big, ReadOptions(["eng"], 0.001, False, 0.8), load_profiles())
    # the engine that was cancelled reads the next label normally
    read, _ = read_label(render(spec), OPTIONS, load_profiles())
    assert spec.serial in {c.value for c in read.codes if c.type == "serial"}


def test_concurrent_reads_each_get_their_own_label():
    engine.configure(workers=2)
    try:
        specs = [random_spec(random.Random(seed), vendor="lenovo") for seed in range(6)]
        images = [render(spec) for spec in specs]
        results: dict[int, set[str]] = {}

        def read(i: int) -> None:
            label, _ = read_label(images[i], OPTIONS, load_profiles())
            results[i] = {c.value for c in label.codes}

        threads = [threading.Thread(target=read, args=(i,)) for i in range(len(specs))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sorted(results) == list(range(len(specs)))
        for i, spec in enumerate(specs):
            assert spec.mac in results[i]
            assert spec.ean13 in results[i]
            # no value of another label leaked into this read
            others = {s.mac for j, s in enumerate(specs) if j != i}
            assert not results[i] & others
    finally:
        engine.configure()
