"""Read a label photo: check it, strip its metadata, have the OCR service read it, store it, and record
the read (approved at once, or queued for review). Nothing is stored when the OCR service cannot read it."""

from __future__ import annotations

import io

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.ocr import OcrClient
from linesight_core.contracts.ocr import LabelRead
from linesight_core.errors import Problem
from linesight_core.image_metadata import strip_metadata
from linesight_core.images import decode_image
from linesight_gateway.db.models import LabelRead as LabelReadRow
from linesight_gateway.db.models import Station
from linesight_gateway.domain.access import Principal
from linesight_gateway.domain.labels import record_label_read
from linesight_gateway.domain.photos import PhotoLimits, PhotoStore

IMAGE_PREFIX = "labels"


def _size_only(width: int, height: int) -> tuple[int, int]:
    return 1, 1


async def ask_ocr(
    ocr: OcrClient, data: bytes, content_type: str, vendor_hint: str | None, *, timeout: float
) -> LabelRead:
    try:
        return await ocr.parse_label(data, content_type, vendor_hint, timeout=timeout)
    except UpstreamError as exc:
        if exc.status < 500:
            raise  # about the photo or the hint: the caller's to fix, with the OCR service's own words
        raise Problem(
            exc.status,
            f"{exc.detail} The label was not read and nothing was stored; send the photo again later.",
            title="OCR service unavailable",
            headers={"Retry-After": "10"},
            upstream_service=exc.service,
        ) from exc


async def read_label(
    session: Session,
    photo: bytes,
    station: Station | None,
    principal: Principal,
    *,
    context: str,
    vendor_hint: str | None,
    ocr: OcrClient,
    store: PhotoStore,
    limits: PhotoLimits,
    ocr_timeout: float,
    auto_approve_threshold: float,
) -> LabelReadRow:
    """The committed label read of `photo`, taken at `station` (None: a read without a station)."""
    # Checked (limits, then every block entropy-decoded, so a damaged file is refused) but decoded only at
    # the smallest DCT reduction: the read needs the photo's format and size, not its pixels.
    decoded = await run_in_threadpool(
        decode_image, photo, max_bytes=limits.max_bytes, max_pixels=limits.max_pixels, fit=_size_only
    )
    content_type = f"image/{decoded.format.lower()}"
    # The read and the stored photo are of the photo without its metadata (EXIF with GPS, XMP).
    data = await run_in_threadpool(strip_metadata, photo, max_pixels=limits.max_pixels)
    read = await ask_ocr(ocr, data, content_type, vendor_hint, timeout=ocr_timeout)
    # Stored only once read: a photo the OCR service could not read is refused whole, never half kept.
    stored = await run_in_threadpool(
        store.store.put_content_addressed,
        store.bucket,
        IMAGE_PREFIX,
        io.BytesIO(data),
        content_type=content_type,
    )
    row = record_label_read(
        session,
        read,
        stored,
        station=station,
        context=context,
        vendor_hint=vendor_hint,
        image=(content_type, decoded.width, decoded.height),
        auto_approve_threshold=auto_approve_threshold,
        by=principal,
    )
    await run_in_threadpool(session.commit)
    return row
