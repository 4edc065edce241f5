"""Response bodies of the OCR service's internal API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class TesseractCapabilities(BaseModel):
    version: str
    languages: list[str] = Field(
        description="Languages the service reads labels in (LINESIGHT_OCR_LANGUAGES)"
    )
    installed_languages: list[str] = Field(description="Every language whose data Tesseract has here")


class BarcodeCapabilities(BaseModel):
    decoder: str = "zxing-cpp"
    version: str
    formats: list[str] = Field(description="Barcode formats the decoder reads")


class Capabilities(BaseModel):
    tesseract: TesseractCapabilities
    barcodes: BarcodeCapabilities
