"""What this OCR service can read: its recognizers (Tesseract version and languages, RapidOCR version,
models and providers), the barcode formats."""

from __future__ import annotations

from fastapi import APIRouter, Request

from linesight_core.errors import Problem
from linesight_ocr.api.schemas import (
    BarcodeCapabilities,
    Capabilities,
    RapidCapabilities,
    TesseractCapabilities,
)
from linesight_ocr.domain.barcodes import decoder_version, readable_formats
from linesight_ocr.domain.engine import TesseractUnavailable, check_tesseract
from linesight_ocr.domain.rapid import RapidUnavailable, check_installed

router = APIRouter(prefix="/v1", tags=["capabilities"])


@router.get(
    "/capabilities",
    response_model=Capabilities,
    summary="Tesseract version and languages, barcode formats",
    responses={503: {"description": "Tesseract cannot run or lacks a configured language"}},
)
def capabilities(request: Request) -> Capabilities:
    settings = request.app.state.settings
    try:
        info = check_tesseract(settings.tessdata_dir, settings.languages)
    except TesseractUnavailable as exc:
        raise Problem(503, f"Tesseract is not usable: {exc}", title="OCR engine unavailable") from exc
    rapid = None
    if "rapidocr" in settings.recognizers:
        try:
            rapid = RapidCapabilities(**check_installed(settings.ocr_rapid_providers))  # type: ignore[arg-type]
        except RapidUnavailable as exc:
            raise Problem(503, f"RapidOCR is not usable: {exc}", title="OCR engine unavailable") from exc
    return Capabilities(
        recognizers=list(settings.recognizers),
        rapidocr=rapid,
        tesseract=TesseractCapabilities(
            version=info.version, languages=settings.languages, installed_languages=list(info.languages)
        ),
        barcodes=BarcodeCapabilities(version=decoder_version(), formats=readable_formats()),
    )
