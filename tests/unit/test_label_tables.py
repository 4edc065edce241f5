"""The Labels page's tables and words, and the reviewer's fields turned into the gateway's codes."""

from datetime import UTC, date, datetime

import pandas as pd

from linesight_ui import label_tables

READ_CODES = [
    {
        "type": "serial",
        "value": "PF3K9ZQ2",
        "key": "S/N",
        "read_value": "PF3K9ZQ2",
        "confidence": 0.97,
        "source": "both",
        "valid": True,
        "repaired": True,
        "barcode_disagrees": False,
        "review": "ok",
        "token_boxes": [],
    },
    {
        "type": "ean13",
        "value": "4006381333932",
        "key": "EAN",
        "read_value": "4006381333932",
        "confidence": 0.48,
        "source": "ocr",
        "valid": False,
        "repaired": False,
        "barcode_disagrees": True,
        "review": "flagged",
        "token_boxes": [],
    },
    {
        "type": "mac",
        "value": "3C:52:82:1A:2B:4F",
        "key": None,
        "read_value": "3C52821A2B4E",
        "confidence": None,
        "source": "reviewer",
        "valid": True,
        "repaired": False,
        "barcode_disagrees": False,
        "review": "corrected",
        "token_boxes": [],
    },
]


def test_codes_table_says_type_confidence_source_and_validation_in_words():
    rows = label_tables.codes_table(READ_CODES).to_dict("records")
    assert rows[0] | {"confidence": None} == {
        "#": 1,
        "type": "serial",
        "value": "PF3K9ZQ2",
        "key": "S/N",
        "confidence": None,
        "source": "OCR + barcode",
        "validation": "valid, OCR confusions repaired",
        "review": "sure",
    }
    assert (rows[1]["source"], rows[1]["validation"], rows[1]["review"]) == (
        "OCR",
        "check digit wrong, barcode disagrees",
        "check this",
    )
    assert (rows[2]["source"], rows[2]["review"]) == ("reviewer", "corrected (read 3C52821A2B4E)")
    assert label_tables.validation_text({"type": "mac", "valid": False}) == "format wrong"
    assert list(label_tables.codes_table([]).columns) == label_tables.CODE_COLUMNS


def test_reasons_in_words_and_unknown_ones_readable():
    assert label_tables.reasons_text(["invalid_checksum", "low_confidence"]) == (
        "a check digit is wrong; a code was read with low confidence"
    )
    assert label_tables.reasons_text(["something_new"]) == "something new"


def test_queue_table_one_row_per_read():
    read = {
        "id": "6a1b7e52",
        "status": "needs_review",
        "station": "goods-in",
        "vendor": {"id": "dell", "name": "Dell", "matched_by": "hint"},
        "codes": READ_CODES[:2],
        "review_reasons": ["no_text"],
        "created_at": "2026-12-01T09:30:00Z",
    }
    [row] = label_tables.queue_table([read]).to_dict("records")
    assert row == {
        "read at": "2026-12-01 09:30:00 UTC",
        "status": "needs review",
        "station": "goods-in",
        "vendor": "Dell",
        "codes": "serial PF3K9ZQ2, ean13 4006381333932",
        "why": "only barcodes were read; no printed text confirms them",
        "id": "6a1b7e52",
    }
    assert label_tables.pick_label(read).startswith("2026-12-01 09:30:00 UTC · goods-in · Dell · serial")


def test_confirmed_codes_drop_emptied_rows_strip_values_and_need_a_type():
    rows = [
        {"type": "serial", "value": " PF3K9ZQ2 "},
        {"type": "ean13", "value": ""},  # emptied: left out
        {"type": "serial", "value": None},
        {"type": None, "value": "T14"},
        {"type": "model", "value": "ThinkPad T14"},
    ]
    codes, problems = label_tables.confirmed_codes(rows)
    assert codes == [{"type": "serial", "value": "PF3K9ZQ2"}, {"type": "model", "value": "ThinkPad T14"}]
    assert problems == ["row 4 (T14): pick the code's type"]
    frame = pd.DataFrame([{"type": "mac", "value": "3c-52"}, {"type": "serial", "value": float("nan")}])
    assert label_tables.confirmed_codes(frame) == ([{"type": "mac", "value": "3c-52"}], [])


def test_export_lines_counts_reads():
    assert label_tables.export_lines(b'{"a":1}\n{"b":2}\n\n') == 2
    assert label_tables.export_lines(b"") == 0


def test_day_range_is_utc_days_with_the_last_one_included():
    assert label_tables.day_range([]) == (None, None)
    assert label_tables.day_range((date(2026, 12, 1),)) == (datetime(2026, 12, 1, tzinfo=UTC), None)
    assert label_tables.day_range((date(2026, 12, 1), date(2026, 12, 2))) == (
        datetime(2026, 12, 1, tzinfo=UTC),
        datetime(2026, 12, 3, tzinfo=UTC),
    )


def test_every_review_reason_the_ocr_contract_names_is_said_in_words():
    from typing import get_args

    from linesight_core.contracts.ocr import ReviewReason

    missing = [r for r in get_args(ReviewReason) if r not in label_tables.REASON_WORDS]
    assert not missing, f"the review queue would show these as bare ids: {missing}"
