"""The character-level alignment of two recognizers' reads, their pairing per field, what counts as
evidence for auto-approval, and the Express Service Code's base-36 decoding."""

from linesight_core.contracts.ocr import LabelCode
from linesight_ocr.domain.consensus import combine, describe, earned, similarity
from linesight_ocr.domain.crosschecks import check_express_code, tag_of
from linesight_ocr.domain.line_look import confusions_only
from linesight_ocr.domain.tesseract_pass import Word
from linesight_ocr.synthetic_hard import express_service_code


def code(kind: str, value: str, valid: bool = True, confidence: float = 0.9) -> LabelCode:
    return LabelCode(type=kind, value=value, raw=value, confidence=confidence, source="ocr", valid=valid)


def test_alignment_names_each_differing_stretch_not_a_shifted_tail():
    assert describe("PF3K9ZO2", "PF3K9Z02") == "tesseract read 'PF3K9ZO2', rapidocr read 'PF3K9Z02': O/0 at 7"
    # a dropped character is one difference, the rest still lines up
    assert describe("FZ3DHQD#1DQ", "F3DHQD#1DQ").endswith(": 'Z' only in tesseract's at 2")
    assert describe("26:52:59", "7A:26:52:59").endswith(": '7A:' only in rapidocr's at 1")
    assert similarity("2D", "2DDA1A6FD8B1") == 0.9 and similarity("ABCD", "WXYZ") == 0.0


def test_agreeing_reads_are_evidence_and_differing_ones_are_not():
    agreed = combine(
        [code("serial", "PF3K9ZQ2", confidence=0.7)], [code("serial", "PF3K9ZQ2", confidence=0.7)]
    )
    assert [c.evidence for c in agreed] == [["tesseract", "rapidocr"]] and earned(agreed[0])
    assert agreed[0].confidence == 0.95  # wrong only when both are: at least 0.95
    # models compare as letters and digits: RapidOCR drops the spaces
    assert combine([code("model", "ThinkPad T14 Gen 3")], [code("model", "ThinkPadT14Gen3")])[0].evidence == [
        "tesseract",
        "rapidocr",
    ]
    differ = combine([code("serial", "0JFSA9RBEL", valid=False)], [code("serial", "0JF5A9RBEL")])
    assert [c.value for c in differ] == ["0JF5A9RBEL"] and differ[0].alternatives == ["0JFSA9RBEL"]
    assert differ[0].disagreement and not earned(differ[0])
    # one recognizer alone: not earned, except a GTIN whose check digit holds
    alone = combine([code("serial", "PF3K9ZQ2"), code("ean13", "4006381333931")], [])
    assert [earned(c) for c in alone] == [False, True]
    # unlike values of one field are two codes, each seen by one recognizer
    two = combine([code("serial", "AAAA1111")], [code("serial", "ZZZZ9999")])
    assert [c.evidence for c in two] == [["tesseract"], ["rapidocr"]]


def test_a_check_digit_decides_between_two_gtin_reads():
    out = combine([code("ean13", "4006381333932", valid=False)], [code("ean13", "4006381333931")])
    assert out[0].value == "4006381333931" and out[0].disagreement is None and earned(out[0])


def test_the_express_service_code_is_the_tag_in_base_36():
    assert express_service_code("6HALZZ3") == "14106441567"
    assert tag_of("141 064 415 67") == "6HALZZ3" and tag_of("0000000") is None
    assert tag_of("99999999999999") is None  # more than any 7-character tag


def test_a_code_one_extraction_missed_counts_when_the_other_text_holds_it():
    from linesight_ocr.domain.tesseract_pass import Word

    line = [Word("P/N", 0.9, (0, 0, 30, 10), (0, 0, 30, 10), 1, 1, 1)]
    line.append(Word("S2BJDS#CJL", 0.9, (40, 0, 140, 10), (40, 0, 140, 10), 1, 1, 2))
    seen = combine([], [code("part_number", "S2BJDS#CJL")], tesseract_words=line)
    assert seen[0].evidence == ["tesseract", "rapidocr"] and earned(seen[0])
    unseen = combine([], [code("part_number", "S2BJDS#CJX")], tesseract_words=line)
    assert unseen[0].evidence == ["rapidocr"] and not earned(unseen[0])


def test_only_a_difference_in_characters_tesseract_confuses_is_read_again_glyph_by_glyph():
    assert confusions_only("FE:5D:04:98:40:78", "FE:5D:04:9B:4D:78")  # 8/B, 0/D
    assert confusions_only("0JFSA9RBEL", "0JF5A9RBEL")
    assert not confusions_only("0JFXA9RBEL", "0JF5A9RBEL")  # X/5 is not a confusion
    assert not confusions_only("0JF5A9RBEL", "0JF5A9RBE")  # cut short: lengths differ
    assert not confusions_only("0JF5A9RBEL", "0JF5A9RBEL")  # nothing to settle
    assert not confusions_only("S8O0D1J5", "58D0O1TS")  # more than three differences


def test_a_difference_tesseract_takes_back_reading_glyphs_alone_is_agreement_and_others_are_not():
    tesseract, rapid = code("mac", "FE:5D:04:98:40:78"), code("mac", "FE:5D:04:9B:4D:78")

    def reread(value: str):
        return lambda t, r: t.model_copy(update={"value": value})

    settled = combine([tesseract], [rapid], settle=reread("FE:5D:04:9B:4D:78"))
    assert [c.value for c in settled] == ["FE:5D:04:9B:4D:78"] and earned(settled[0])
    assert "line_crops" in settled[0].evidence and settled[0].alternatives == ["FE:5D:04:98:40:78"]
    # read alone the glyphs still say what Tesseract read, or something else: a disagreement for review
    for again in ("FE:5D:04:98:40:78", "FE:5D:04:9B:40:78"):
        kept = combine([tesseract], [rapid], settle=reread(again))
        assert kept[0].disagreement and not earned(kept[0])


def words_of(*lines: str) -> list[Word]:
    return [
        Word(text, 0.9, (0, 40 * n, 100, 40 * n + 20), (0, 40 * n, 100, 40 * n + 20), n, 1, 1)
        for n, text in enumerate(lines, start=1)
    ]


def test_a_value_one_extraction_cut_short_is_agreed_when_that_recognizers_line_holds_all_of_it():
    cut, whole = code("serial", "92F01F", valid=False), code("serial", "92F01F1C2D54")
    agreed = combine([cut], [whole], words_of("S/N:", "92F01F 1C2D54"), words_of("S/N:92F01F1C2D54"))
    assert [c.value for c in agreed] == ["92F01F1C2D54"] and earned(agreed[0])
    assert agreed[0].alternatives == ["92F01F"]
    # Tesseract's text ends where its value does: only RapidOCR read the rest, for review
    alone = combine([cut], [whole], words_of("S/N:", "92F01F"), words_of("S/N:92F01F1C2D54"))
    assert alone[0].value == "92F01F1C2D54" and not earned(alone[0]) and alone[0].disagreement
    # the whole value split across two lines is not one line's read of it
    split = combine([cut], [whole], words_of("92F01F", "1C2D54"), words_of("92F01F1C2D54"))
    assert not earned(split[0])


def _line(y: int, *texts: str, x0: int = 0) -> list[Word]:
    out, x = [], x0
    for n, t in enumerate(texts, 1):
        out.append(Word(t, 0.95, (x, y, x + 12 * len(t), y + 20), (x, y, x + 12 * len(t), y + 20), 1, y, n))
        x += 12 * len(t) + 10
    return out


def test_the_express_service_code_under_its_key_and_in_each_recognizers_words_confirms_the_tag():
    tag = "B0GTFU8"  # both recognizers read `BOGTFU8`: the code printed under its key settles the O/0
    express = express_service_code(tag)
    misread = code("serial", "BOGTFU8")
    below = _line(10, "Express", "Service", "Code:") + _line(40, express)
    fixed = check_express_code([misread], below)[0]
    assert fixed.value == tag and "express_service_code" in fixed.evidence
    # two recognizers' words of one line interleave (`Express Express Service Service ...`): each
    # recognizer's words are read on their own
    tesseract = _line(10, "Express", "Service", "Code:", express)
    rapid = _line(12, "Express", "Service", f"Code:{express}", x0=3)
    fixed = check_express_code([misread], tesseract, rapid)[0]
    assert fixed.value == tag and "express_service_code" in fixed.evidence
    # a line below that is not the code's digits alone is not taken for it
    other = _line(10, "Express", "Service", "Code:") + _line(40, "DP/N:", "08KTS6", "1234567")
    assert check_express_code([misread], other)[0].value == "BOGTFU8"


def test_the_express_service_code_ends_where_its_digits_do():
    tag = "6HALZZ3"
    express = express_service_code(tag)
    misread = code("serial", "6HAIZZ3")
    # two fields a line: the part number's digits after the code are not part of it
    words = _line(10, "Express", "Service", "Code", express[:3], express[3:], "DP/N", "0X4VJ1")
    fixed = check_express_code([misread], words)[0]
    assert fixed.value == tag and "express_service_code" in fixed.evidence


def test_tesseract_read_twice_alike_wins_a_disagreement_both_formats_allow_but_stays_for_review():
    # RapidOCR read the Q as O, which the format (no O in Lenovo serials) repaired to 0
    tesseract = code("serial", "LNQR1NUS")
    rapid = code("serial", "LN0R1NUS").model_copy(update={"raw": "LNORINUS"})

    def line_read(value: str):
        return lambda t, r: t.model_copy(update={"value": value})

    twice = combine([tesseract], [rapid], settle=line_read("LNQR1NUS"))
    assert [c.value for c in twice] == ["LNQR1NUS"] and twice[0].alternatives == ["LN0R1NUS"]
    assert twice[0].disagreement and not earned(twice[0])
    # its line read says something else: RapidOCR's, as before
    other = combine([tesseract], [rapid], settle=line_read("LNQRLNUS"))
    assert [c.value for c in other] == ["LN0R1NUS"] and not earned(other[0])
    # an invalid Tesseract read does not win for being read twice
    invalid = code("serial", "LNQR1NU", valid=False)
    assert combine([invalid], [rapid], settle=line_read("LNQR1NU"))[0].value == "LN0R1NUS"
    # RapidOCR read the character as it stands (Tesseract's B for an 8 recurs in its line read): RapidOCR's
    b_for_8 = combine(
        [code("serial", "25YY9MB9")], [code("serial", "25YY9M89")], settle=line_read("25YY9MB9")
    )
    assert b_for_8[0].value == "25YY9M89"
    v_for_w = combine(
        [code("serial", "6H93WV7NQ")], [code("serial", "6H93WW7NQ")], settle=line_read("6H93WV7NQ")
    )
    assert v_for_w[0].value == "6H93WW7NQ"
    # ... and so is Q/0 where RapidOCR read the 0 as it stands (not a repair)
    as_read = rapid.model_copy(update={"raw": "LN0R1NUS"})
    assert combine([tesseract], [as_read], settle=line_read("LNQR1NUS"))[0].value == "LN0R1NUS"


def test_a_tag_is_rewritten_by_one_recognizers_express_service_code_only_across_ocr_confusions():
    tag = "6HALZZ3"
    words = _line(10, "Express", "Service", "Code:", express_service_code(tag))
    # O/0 and I/1: the tag's own misreads, corrected by either recognizer's code
    assert check_express_code([code("serial", "6HAIZZ3")], words, [])[0].value == tag
    # a tag one recognizer's code is off from by a character OCR does not confuse: the code's digit may
    # be the misread, so the tag stays as read (for review)
    assert check_express_code([code("serial", "6HALZZ8")], words, [])[0].value == "6HALZZ8"
