"""Bodies of the label reads API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from linesight_core.contracts.ocr import CodeType, TextBox, Vendor

ReadStatus = Literal["needs_review", "approved", "corrected"]
CodeReview = Literal["ok", "flagged", "approved", "corrected", "added"]

_CODES_EXAMPLE: list[Any] = [
    {"type": "serial", "value": "PF3K9ZQ2"},
    {"type": "part_number", "value": "5B20W73221"},
    {"type": "mac", "value": "3C:52:82:1A:2B:4F"},
    {"type": "ean13", "value": "4006381333931"},
]


_READ_EXAMPLE: dict[str, Any] = {
    "id": "6a1b7e52-2f7c-4c1e-9a0e-0b6c1f3d2e11",
    "status": "needs_review",
    "auto_approved": False,
    "station_id": "4d2f6b8a-0c1e-4a35-9b57-7d9f1b3d5e80",
    "station": "goods-in-1",
    "context": "inbound pallet 4711",
    "vendor": {"name": "Lenovo", "id": "lenovo", "matched_by": "label"},
    "codes": [
        {
            "type": "serial",
            "value": "PF3K9ZQ2",
            "key": "S/N",
            "read_value": "PF3K9ZQ2",
            "confidence": 0.97,
            "source": "both",
            "valid": True,
            "repaired": False,
            "barcode_disagrees": False,
            "review": "ok",
            "token_boxes": [{"x1": 96, "y1": 78, "x2": 214, "y2": 101}],
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
            "barcode_disagrees": False,
            "review": "flagged",
            "token_boxes": [{"x1": 90, "y1": 230, "x2": 268, "y2": 253}],
        },
    ],
    "review_reasons": ["invalid_checksum", "low_confidence"],
    "tokens_count": 16,
    "rotation": 0,
    "image": {
        "url": "/api/v1/labels/6a1b7e52-2f7c-4c1e-9a0e-0b6c1f3d2e11/image",
        "width": 640,
        "height": 300,
        "sha256": "73fb47247808eefa92140859d5aeee8955cca452b9f6873e67ecbeba9276a3f4",
        "content_type": "image/png",
    },
    "notes": "",
    "revision": 1,
    "created_at": "2026-12-01T09:30:00Z",
    "reviewed_by": None,
    "reviewed_at": None,
}
_REVIEWED_EXAMPLE: dict[str, Any] = {
    **_READ_EXAMPLE,
    "status": "corrected",
    "codes": [
        {**_READ_EXAMPLE["codes"][0], "review": "approved"},
        {**_READ_EXAMPLE["codes"][1], "value": "4006381333931", "valid": True, "review": "corrected"},
    ],
    "notes": "EAN misread: last digit 1",
    "revision": 2,
    "reviewed_by": "quality desk",
    "reviewed_at": "2026-12-01T09:41:00Z",
    "history": [
        {
            "revision": 1,
            "action": "read",
            "status": "needs_review",
            "codes": [
                {"type": "serial", "value": "PF3K9ZQ2", "review": "ok"},
                {"type": "ean13", "value": "4006381333932", "review": "flagged"},
            ],
            "notes": "",
            "by_name": "line 3 tablet",
            "at": "2026-12-01T09:30:00Z",
        },
        {
            "revision": 2,
            "action": "correct",
            "status": "corrected",
            "codes": [
                {"type": "serial", "value": "PF3K9ZQ2", "review": "approved"},
                {"type": "ean13", "value": "4006381333931", "review": "corrected"},
            ],
            "notes": "EAN misread: last digit 1",
            "by_name": "quality desk",
            "at": "2026-12-01T09:41:00Z",
        },
    ],
}


class CodeIn(BaseModel):
    type: CodeType
    value: str = Field(
        min_length=1,
        max_length=100,
        description="GTINs: digits with a right check digit; MAC: 12 hex digits (':' or '-' between pairs "
        "optional); serial and part number: letters, digits, '-', '/', '#', '.'; model: free text",
    )


class CorrectionIn(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"codes": _CODES_EXAMPLE, "notes": "serial misread: 2 for Z"}]}
    )

    codes: list[CodeIn] = Field(
        max_length=50,
        description="The full confirmed set: right values, wrong codes left out, missing codes added",
    )
    notes: str = Field("", max_length=4000)


class ApprovalIn(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"notes": "checked against the box"}]})

    notes: str = Field("", max_length=4000)


class CodeOut(BaseModel):
    type: CodeType
    value: str = Field(description="The value as it stands: as read, or as a reviewer confirmed it")
    key: str | None = Field(description="The label's key next to the value (`S/N`, `P/N`, ...)")
    read_value: str | None = Field(description="What the OCR service read; null for a code a reviewer added")
    confidence: float | None = Field(description="The OCR service's confidence; null when added")
    source: Literal["ocr", "barcode", "both", "reviewer"]
    valid: bool = Field(description="Check digit or format right (always true once confirmed)")
    repaired: bool
    barcode_disagrees: bool
    evidence: list[str] = Field(
        default_factory=list,
        description="What read or confirms it: `tesseract`, `rapidocr`, `barcode`, `check_digit`",
    )
    disagreement: str | None = Field(
        None, description="How the OCR service's two recognizers read it differently (the reviewer's cue)"
    )
    review: CodeReview = Field(
        description="`ok` / `flagged` (under the threshold, invalid, disagreeing with a barcode or between the "
        "recognizers) while the read waits for review; `approved`, `corrected` or `added` once it is confirmed"
    )
    token_boxes: list[TextBox] = Field(description="Where on the photo it was read")


class LabelImage(BaseModel):
    url: str = Field(description="Path of the photo in this API (needs an API key)")
    width: int
    height: int
    sha256: str
    content_type: str


class LabelReadOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_READ_EXAMPLE]})

    id: uuid.UUID
    status: ReadStatus
    auto_approved: bool = Field(description="Approved at once: every code at or above the threshold")
    station_id: uuid.UUID | None
    station: str | None = Field(description="The station's name when the label was read")
    context: str
    vendor: Vendor | None
    codes: list[CodeOut]
    review_reasons: list[str] = Field(
        description="Why the read waits for review (empty once approved at once)"
    )
    tokens_count: int = Field(description="Words the OCR service read")
    rotation: int = Field(description="Degrees clockwise the photo was turned to read it")
    image: LabelImage
    notes: str
    revision: int
    created_at: datetime
    reviewed_by: str | None = Field(description="Name of the API key that approved or corrected it last")
    reviewed_at: datetime | None


class LabelCodeBrief(BaseModel):
    type: CodeType
    value: str
    review: CodeReview


class LabelReadChangeOut(BaseModel):
    revision: int
    action: Literal["read", "auto_approve", "approve", "correct"]
    status: ReadStatus
    codes: list[LabelCodeBrief] = Field(description="The codes after this change")
    notes: str
    by_name: str
    at: datetime


class LabelReadDetail(LabelReadOut):
    model_config = ConfigDict(json_schema_extra={"examples": [_REVIEWED_EXAMPLE]})

    history: list[LabelReadChangeOut] = Field(description="Every revision, oldest first")
