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


class RapidCapabilities(BaseModel):
    version: str = Field(description="rapidocr-onnxruntime's version")
    models: list[str] = Field(description="The ONNX models its wheel carries (detection, angle, recognition)")
    providers: list[str] = Field(description="ONNX Runtime execution providers the readers use, in order")


class Capabilities(BaseModel):
    recognizers: list[str] = Field(default_factory=list, description="LINESIGHT_OCR_RECOGNIZERS")
    tesseract: TesseractCapabilities
    rapidocr: RapidCapabilities | None = Field(None, description="When RapidOCR is configured")
    barcodes: BarcodeCapabilities
