"""Vendor recognition from brand words, product lines and model names, as RapidOCR and Tesseract read
them (glued, one character misread), and the alphabets the profiles allow where the vendor documents
them."""

import pytest

from linesight_ocr.domain.vendors import load_profiles, recognise


@pytest.fixture(scope="module")
def profiles():
    return load_profiles()


@pytest.mark.parametrize(
    ("words", "vendor"),
    [
        (["UniFi", "AP"], "ubiquiti"),
        (["UniFiAP"], "ubiquiti"),  # RapidOCR drops the space
        (["Model:", "U6-Pro"], "ubiquiti"),  # no brand at all, only the model name
        (["Model", "UAP-AC-PRO"], "ubiquiti"),
        (["UBIQU1TI"], "ubiquiti"),  # one confused character in a long brand word
        ([")ELL", "-atitude", "5420"], "dell"),  # upside down: any one character off a long word
        (["OptiPlex7090"], "dell"),
        (["Latitude", "5420"], "dell"),
        (["ThinkPadT14Gen3"], "lenovo"),
        (["ThinkCentre", "M70q"], "lenovo"),
        (["HP", "ProBook", "450", "G9"], "hp"),
        (["ProBook450G9"], "hp"),
    ],
)
def test_a_vendor_is_recognised_from_its_product_and_model_names(profiles, words, vendor):
    found = recognise(profiles, words)
    assert found is not None and found.id == vendor


@pytest.mark.parametrize(
    "words",
    [
        ["Serial", "12345"],
        ["U6"],  # too short to be a model name
        ["UNIF"],  # a brand word cut short is no brand word
        ["Model:", "X6-Pro"],
        ["LATI"],
        ["-atitud"],  # one character off and one short
        ["-atitu+e"],  # two characters off
        ["DELI"],  # a short brand word (DELL) counts only whole
    ],
)
def test_words_that_only_look_like_a_vendor_recognise_none(profiles, words):
    assert recognise(profiles, words) is None


def test_a_dell_service_tag_may_hold_i_and_o_as_dell_documents_it(profiles):
    tag = profiles["dell"].fields["serial"].pattern
    assert tag.fullmatch("1IO2ZZ3") and tag.fullmatch("ABC1234")
    assert not tag.fullmatch("ABC123") and not tag.fullmatch("abc1234")
    # the part number's alphabet has no documented source and stays as it was
    assert not profiles["dell"].fields["part_number"].pattern.fullmatch("0IO2ZZ")


def test_a_dell_tag_only_ocr_confirms_with_an_o_or_0_goes_to_review_with_its_look_alike(profiles):
    from linesight_core.contracts.ocr import LabelCode
    from linesight_ocr.domain.read_label import look_alikes, mark_look_alikes, review_reasons

    def tag(value: str, evidence: list[str], source: str = "ocr") -> LabelCode:
        return LabelCode(
            type="serial",
            value=value,
            raw=value,
            confidence=0.95,
            source=source,
            valid=True,
            evidence=evidence,
        )

    dell, hp = profiles["dell"], profiles["hp"]
    both = ["tesseract", "rapidocr"]
    # both recognizers read `O` where `0` may be printed: Dell's tag allows either, so neither decides
    read = mark_look_alikes([tag("COPGQME", both)], dell)
    assert read[0].alternatives == ["C0PGQME"]
    assert "ambiguous_characters" in review_reasons(read, 0.8, False, dell, earned_only=True)
    # the Express Service Code or a barcode tells them apart; a tag without look-alikes needs neither
    assert look_alikes(tag("COPGQME", [*both, "express_service_code"]), dell) == []
    assert look_alikes(tag("COPGQME", [*both, "barcode"], source="both"), dell) == []
    assert look_alikes(tag("XKPGQME", both), dell) == []
    # HP's serial format has no O: a 0 there is what its format allows, nothing ambiguous
    assert look_alikes(tag("0JF5A9RBEL", both), hp) == []
