"""Codes a reviewer confirms (check digits, MAC form, canonical values) and how the export labels a
label's tokens from the confirmed codes."""

import pytest

from linesight_core.label_codes import CodeInvalid, confirm, is_key_word, token_label


@pytest.mark.parametrize(
    ("kind", "value", "canonical"),
    [
        ("ean13", "4006381333931", "4006381333931"),
        ("ean13", "400 6381 33393-1", "4006381333931"),
        ("ean8", "96385074", "96385074"),
        ("upca", "036000291452", "036000291452"),
        ("gtin14", "10012345678902", "10012345678902"),
        ("mac", "3c-52-82-1a-2b-4f", "3C:52:82:1A:2B:4F"),
        ("mac", "3C52821A2B4F", "3C:52:82:1A:2B:4F"),
        ("serial", " pf3k9zq2 ", "PF3K9ZQ2"),
        ("part_number", "TCBZ5W#039", "TCBZ5W#039"),
        ("model", "ThinkPad  T14 Gen 3", "ThinkPad T14 Gen 3"),
    ],
)
def test_confirmed_values_come_back_canonical(kind, value, canonical):
    assert confirm(kind, value) == canonical


@pytest.mark.parametrize(
    ("kind", "value", "says"),
    [
        ("ean13", "4006381333932", "must be 1"),
        ("ean13", "400638133393", "13 digits"),
        ("ean13", "4OO6381333931", "13 digits"),  # a person types digits: no OCR repair here
        ("upca", "4006381333931", "12 digits"),
        ("mac", "3C:52:82:1A:2B", "not a MAC address"),
        ("mac", "3C:52-82:1A:2B:4F", "not a MAC address"),
        ("serial", "PF3K 9ZQ2", "not a serial"),
        ("part_number", "-5B20", "not a part number"),
        ("model", "", "model name"),
    ],
)
def test_values_that_cannot_be_right_are_refused_with_the_reason(kind, value, says):
    with pytest.raises(CodeInvalid, match=says):
        confirm(kind, value)


def _token(text, box=(0, 0, 10, 10)):
    return {"text": text, "box": dict(zip(("x1", "y1", "x2", "y2"), box, strict=True))}


CODES = [
    {"type": "serial", "value": "SPCL318Z48", "token_boxes": [{"x1": 100, "y1": 50, "x2": 220, "y2": 75}]},
    {"type": "model", "value": "ThinkPad T14 Gen 3", "token_boxes": []},
    {"type": "mac", "value": "3C:52:82:1A:2B:4F", "token_boxes": []},
]


@pytest.mark.parametrize(
    ("token", "label"),
    [
        (_token("3c-52-82-1a-2b-4f"), "mac"),  # the whole value, separators and case aside
        (_token("SPCL3182Z48", (101, 50, 221, 76)), "serial"),  # misread, but read where the serial is
        (_token("S/N:"), "key"),
        (_token("Tag:"), "key"),
        (_token("ThinkPad"), "model"),  # part of a value
        (_token("3"), "other"),  # too short to say which value it is part of
        (_token("LENOVO"), "other"),
        (_token("—"), "other"),
    ],
)
def test_tokens_are_labelled_by_the_confirmed_codes(token, label):
    assert token_label(token, CODES) == label


def test_key_words_are_whole_words():
    assert is_key_word("P/N:") and is_key_word("Model") and not is_key_word("Modelling")
