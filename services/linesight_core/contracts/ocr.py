"""The OCR service's API contract: a label read (tokens, codes, barcodes, vendor, review reasons)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

CodeType = Literal["ean13", "ean8", "upca", "gtin14", "serial", "part_number", "model", "mac"]
CodeSource = Literal["ocr", "barcode", "both"]
ReviewReason = Literal[
    "no_codes",
    "low_confidence",
    "invalid_checksum",
    "invalid_format",
    "barcode_text_disagree",
    "conflicting_values",
    "orientation_uncertain",
    "missing_codes",
    "no_text",
    # With two recognizers (ocr-service LINESIGHT_OCR_RECOGNIZERS): they read a code differently (the
    # code's `disagreement` says how), a code only one of them read with nothing else confirming it, a
    # label of no known vendor (no profile says which codes it must carry).
    "recognizers_disagree",
    "unconfirmed",
    "unknown_vendor",
    # A code only OCR confirms holds an O, 0, I or 1 where its vendor's format allows both look-alikes
    # (Dell's Service Tag): two recognizers misread those alike; the other forms are its `alternatives`.
    "ambiguous_characters",
]


class TextBox(BaseModel):
    """Corners in pixels of the uploaded image (EXIF orientation applied), origin top left."""

    x1: int
    y1: int
    x2: int
    y2: int


class Token(BaseModel):
    text: str
    confidence: float = Field(ge=0.0, le=1.0, description="Tesseract's word confidence, 0..1")
    box: TextBox
    block: int
    line: int = Field(description="Line number within the block")
    word: int


class Barcode(BaseModel):
    format: str = Field(description="zxing-cpp format name: EAN13, EAN8, UPCA, UPCE, Code128, QRCode, ...")
    text: str
    box: TextBox


class LabelCode(BaseModel):
    type: CodeType
    key: str | None = Field(None, description="The label's own key next to the value (`S/N`, `P/N`, ...)")
    value: str
    raw: str = Field(description="What was read before OCR confusions were repaired")
    confidence: float = Field(ge=0.0, le=1.0)
    source: CodeSource
    valid: bool = Field(description="The check digit (GTINs) or the format (others) is right")
    repaired: bool = Field(False, description="OCR confusions (O→0, I→1, S→5, B→8) were repaired")
    barcode_disagrees: bool = Field(
        False, description="A barcode of the same type carries a different value than the text"
    )
    token_boxes: list[TextBox] = Field(default_factory=list, description="Boxes of the tokens it came from")
    evidence: list[str] = Field(
        default_factory=list,
        description="What read or confirms the value: `tesseract`, `rapidocr`, `barcode`, `check_digit`",
    )
    disagreement: str | None = Field(
        None, description="How the recognizers read it differently (`tesseract read ..., rapidocr read ...`)"
    )
    alternatives: list[str] = Field(default_factory=list, description="Other values a recognizer read")


class Vendor(BaseModel):
    name: str
    id: str
    matched_by: Literal["hint", "label"]


class ParseTimings(BaseModel):
    """Milliseconds per stage."""

    decode: float
    preprocess: float = Field(description="Grayscale, contrast, scaling, orientation detection, deskew")
    ocr: float
    barcodes: float
    extract: float
    total: float


class LabelRead(BaseModel):
    image_width: int
    image_height: int
    rotation: int = Field(description="Degrees clockwise the image was turned to read it: 0, 90, 180, 270")
    deskew_degrees: float = 0.0
    vendor: Vendor | None
    codes: list[LabelCode]
    barcodes: list[Barcode]
    tokens: list[Token]
    needs_review: bool
    review_reasons: list[ReviewReason]
    timings_ms: ParseTimings


class LabelUrlRequest(BaseModel):
    image_url: str = Field(max_length=2048, description="http(s) URL of the label image")
    vendor_hint: str | None = Field(None, max_length=64, description="Vendor id, e.g. `lenovo`")
