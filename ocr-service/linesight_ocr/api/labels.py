"""POST /v1/parse-label (an uploaded image) and /v1/parse-label/url (an image fetched by URL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Annotated, TypeVar

import anyio
from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.concurrency import run_in_threadpool

from linesight_core.contracts.ocr import LabelRead, LabelUrlRequest
from linesight_core.errors import Problem
from linesight_core.images import decode_image
from linesight_ocr import metrics
from linesight_ocr.domain.engine import TesseractTimeout, TesseractUnavailable
from linesight_ocr.domain.fetch import AllowList, fetch_image
from linesight_ocr.domain.read_label import ReadDeadlineExceeded, ReadOptions
from linesight_ocr.domain.reader_pool import ReadCancelled, ReaderCrashed
from linesight_ocr.settings import OcrSettings

router = APIRouter(prefix="/v1", tags=["labels"])
T = TypeVar("T")
DISCONNECT_POLL_SECONDS = 0.25

ERRORS = {
    413: {"description": "The image is over the byte or pixel limit"},
    415: {"description": "Not an accepted image format (JPEG, PNG, WEBP, BMP, TIFF)"},
    422: {"description": "Not an image, an empty or damaged image, an unknown vendor hint, a refused URL"},
    503: {
        "description": "Tesseract is not usable here, reading took longer than a recognition's time limit "
        "or the read's deadline (LINESIGHT_OCR_READ_DEADLINE_SECONDS), or the reader process ended while "
        "reading"
    },
}


async def _parse(request: Request, data: bytes, vendor_hint: str | None) -> LabelRead:
    settings: OcrSettings = request.app.state.settings
    profiles = request.app.state.vendor_profiles
    if vendor_hint and vendor_hint.strip().lower() not in profiles:
        raise Problem(422, f"Unknown vendor_hint {vendor_hint!r}; known: {', '.join(sorted(profiles))}.")
    start = time.perf_counter()
    decoded = await run_in_threadpool(
        decode_image, data, max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels
    )
    decode_ms = (time.perf_counter() - start) * 1000
    options = ReadOptions(
        languages=settings.languages,
        tesseract_timeout=settings.ocr_tesseract_timeout_seconds,
        deskew=settings.ocr_deskew,
        review_below=settings.ocr_review_below_confidence,
        max_pixels=settings.ocr_max_read_pixels,
        recognizers=settings.recognizers,
    )
    try:
        read, agreement = await _while_connected(
            request,
            lambda gone: request.app.state.readers.read(decoded.image, options, vendor_hint, decode_ms, gone),
        )
    except TesseractTimeout as exc:
        metrics.READ_FAILURES.labels("timeout").inc()
        raise Problem(
            503,
            f"{exc} (LINESIGHT_OCR_TESSERACT_TIMEOUT_SECONDS); try a smaller or sharper photo.",
            title="OCR timed out",
        ) from exc
    except ReadDeadlineExceeded as exc:
        metrics.READ_FAILURES.labels("deadline").inc()
        raise Problem(
            503,
            f"The label was not read within {settings.ocr_read_deadline_seconds:g} s "
            f"(LINESIGHT_OCR_READ_DEADLINE_SECONDS): {exc}; try a smaller or sharper photo, or later.",
            title="OCR deadline passed",
        ) from exc
    except ReadCancelled as exc:
        metrics.READS_CANCELLED.inc()
        # Nobody reads this answer; it shows in the request metrics and logs.
        raise Problem(503, "The caller went away before the label was read.", title="Read cancelled") from exc
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


async def _while_connected(request: Request, read: Callable[[threading.Event], T]) -> T:
    """`read(gone)` in a worker thread while the client's connection is watched: when the client goes
    away (the gateway gave up), `gone` is set and the reader stops working on the label."""
    gone = threading.Event()
    async with anyio.create_task_group() as tasks:

        async def watch() -> None:
            while not await request.is_disconnected():
                await anyio.sleep(DISCONNECT_POLL_SECONDS)
            gone.set()

        tasks.start_soon(watch)
        # Caught inside: a task group would wrap the read's exception in an ExceptionGroup.
        try:
            result, error = await run_in_threadpool(read, gone), None
        except Exception as exc:  # noqa: BLE001 - raised again below, as it came
            error = exc
        tasks.cancel_scope.cancel()
    if error is not None:
        raise error
    return result


# Each read waits for a reader process (domain/reader_pool.py) in a worker thread; LINESIGHT_OCR_WORKERS
# readers read at once, further labels wait for a free one until the read's deadline.
@router.post("/parse-label", response_model=LabelRead, summary="Read a label image", responses=ERRORS)
async def parse_label(
    request: Request,
    image: Annotated[UploadFile, File(description="The label photo")],
    vendor_hint: Annotated[str | None, Form(max_length=64, description="Vendor id, e.g. `dell`")] = None,
) -> LabelRead:
    settings: OcrSettings = request.app.state.settings
    data = await image.read(settings.image_max_bytes + 1)
    return await _parse(request, data, vendor_hint)


@router.post(
    "/parse-label/url",
    response_model=LabelRead,
    summary="Fetch a label image by URL and read it",
    responses={**ERRORS, 504: {"description": "The image did not arrive within the time limit"}},
)
async def parse_label_url(request: Request, body: LabelUrlRequest) -> LabelRead:
    settings: OcrSettings = request.app.state.settings
    data = await run_in_threadpool(
        fetch_image,
        body.image_url,
        allow=AllowList.parse(settings.url_allowlist),
        max_bytes=settings.image_max_bytes,
        timeout=settings.ocr_url_timeout_seconds,
        max_redirects=settings.ocr_url_max_redirects,
    )
    return await _parse(request, data, body.vendor_hint)
