"""POST /v1/parse-label (an uploaded image) and /v1/parse-label/url (an image fetched by URL)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from linesight_core.contracts.ocr import LabelRead, LabelUrlRequest
from linesight_core.errors import Problem
from linesight_core.images import decode_image
from linesight_ocr import metrics
from linesight_ocr.domain.engine import TesseractTimeout, TesseractUnavailable
from linesight_ocr.domain.fetch import AllowList, fetch_image
from linesight_ocr.domain.label import ReadOptions
from linesight_ocr.domain.readers import ReaderCrashed
from linesight_ocr.settings import OcrSettings

router = APIRouter(prefix="/v1", tags=["labels"])

ERRORS = {
    413: {"description": "The image is over the byte or pixel limit"},
    415: {"description": "Not an accepted image format (JPEG, PNG, WEBP, BMP, TIFF)"},
    422: {"description": "Not an image, an empty or damaged image, an unknown vendor hint, a refused URL"},
    503: {
        "description": "Tesseract is not usable here, reading took longer than the time limit, or the "
        "reader process ended while reading"
    },
}


def _parse(request: Request, data: bytes, vendor_hint: str | None) -> LabelRead:
    settings: OcrSettings = request.app.state.settings
    profiles = request.app.state.vendor_profiles
    if vendor_hint and vendor_hint.strip().lower() not in profiles:
        raise Problem(422, f"Unknown vendor_hint {vendor_hint!r}; known: {', '.join(sorted(profiles))}.")
    start = time.perf_counter()
    decoded = decode_image(data, max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels)
    decode_ms = (time.perf_counter() - start) * 1000
    options = ReadOptions(
        languages=settings.languages,
        tesseract_timeout=settings.ocr_tesseract_timeout_seconds,
        deskew=settings.ocr_deskew,
        review_below=settings.ocr_review_below_confidence,
    )
    try:
        read, agreement = request.app.state.readers.read(decoded.image, options, vendor_hint, decode_ms)
    except TesseractTimeout as exc:
        metrics.READ_FAILURES.labels("timeout").inc()
        raise Problem(
            503,
            f"{exc} (LINESIGHT_OCR_TESSERACT_TIMEOUT_SECONDS); try a smaller or sharper photo.",
            title="OCR timed out",
        ) from exc
    except TesseractUnavailable as exc:
        metrics.READ_FAILURES.labels("engine").inc()
        raise Problem(503, f"Tesseract is not usable: {exc}", title="OCR engine unavailable") from exc
    except ReaderCrashed as exc:
        metrics.READ_FAILURES.labels("crash").inc()
        raise Problem(
            503,
            f"{exc}; the readers restart, try again (a photo that does this every time: report it).",
            title="OCR engine crashed",
        ) from exc
    metrics.PARSE_SECONDS.observe(time.perf_counter() - start)
    for code in read.codes:
        metrics.CODES_FOUND.labels(code.type, str(code.valid).lower()).inc()
    metrics.LABEL_READS.labels(str(read.needs_review).lower()).inc()
    for reason in read.review_reasons:
        metrics.REVIEW_REASONS.labels(reason).inc()
    for result in agreement:
        metrics.BARCODE_AGREEMENT.labels(result).inc()
    return read


# Plain `def`: each waits for a reader process (domain/readers.py), so FastAPI runs these in its thread
# pool; LINESIGHT_OCR_WORKERS readers read at once, further labels wait for a free one.
@router.post("/parse-label", response_model=LabelRead, summary="Read a label image", responses=ERRORS)
def parse_label(
    request: Request,
    image: Annotated[UploadFile, File(description="The label photo")],
    vendor_hint: Annotated[str | None, Form(max_length=64, description="Vendor id, e.g. `dell`")] = None,
) -> LabelRead:
    settings: OcrSettings = request.app.state.settings
    data = image.file.read(settings.image_max_bytes + 1)
    return _parse(request, data, vendor_hint)


@router.post(
    "/parse-label/url",
    response_model=LabelRead,
    summary="Fetch a label image by URL and read it",
    responses={**ERRORS, 504: {"description": "The image did not arrive within the time limit"}},
)
def parse_label_url(request: Request, body: LabelUrlRequest) -> LabelRead:
    settings: OcrSettings = request.app.state.settings
    data = fetch_image(
        body.image_url,
        allow=AllowList.parse(settings.url_allowlist),
        max_bytes=settings.image_max_bytes,
        timeout=settings.ocr_url_timeout_seconds,
        max_redirects=settings.ocr_url_max_redirects,
    )
    return _parse(request, data, body.vendor_hint)
