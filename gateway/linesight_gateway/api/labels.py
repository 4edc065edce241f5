"""Label reads: send a label photo, get its codes; the review queue (list, approve, correct) and the
export of reviewed reads as token-classifier training data."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, File, Form, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from sqlalchemy import false, func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from linesight_core.contracts.common import Page
from linesight_core.contracts.ocr import CodeType, Vendor
from linesight_core.errors import NotFound, Problem
from linesight_core.pagination import paginate
from linesight_core.storage import ObjectNotFound
from linesight_gateway.api.deps import (
    Engineer,
    OcrDep,
    Operator,
    PhotoStoreDep,
    SessionDep,
    SessionFactoryDep,
    SettingsDep,
    StoreDep,
    Viewer,
    photo_limits,
)
from linesight_gateway.api.label_schemas import (
    ApprovalIn,
    CorrectionIn,
    LabelReadDetail,
    LabelReadOut,
    ReadStatus,
)
from linesight_gateway.db.models import LabelRead as LabelReadRow
from linesight_gateway.db.models import Station
from linesight_gateway.domain import labels as domain
from linesight_gateway.domain.access import Principal
from linesight_gateway.domain.label_export import iter_reviewed
from linesight_gateway.domain.read_label import read_label
from linesight_gateway.domain.station_scope import require_station, station_filter
from linesight_gateway.domain.stations import get_station, usable_station

router = APIRouter(prefix="/api/v1/labels", tags=["labels"])


def read_out(row: LabelReadRow) -> LabelReadOut:
    vendor = (
        Vendor(id=row.vendor_id, name=row.vendor_name or row.vendor_id, matched_by=row.vendor_matched_by)  # type: ignore[arg-type]
        if row.vendor_id
        else None
    )
    return LabelReadOut(
        id=row.id,
        status=row.status,  # type: ignore[arg-type]
        auto_approved=row.auto_approved,
        station_id=row.station_id,
        station=row.station_name,
        context=row.context,
        vendor=vendor,
        codes=row.codes,  # type: ignore[arg-type]
        review_reasons=row.review_reasons,
        tokens_count=row.tokens_count,
        rotation=row.rotation,
        image={  # type: ignore[arg-type]
            "url": f"{router.prefix}/{row.id}/image",
            "width": row.image_width,
            "height": row.image_height,
            "sha256": row.image_sha256,
            "content_type": row.image_content_type,
        },
        notes=row.notes,
        revision=row.revision,
        created_at=row.created_at,
        reviewed_by=row.reviewed_by_name,
        reviewed_at=row.reviewed_at,
    )


def detail_out(session: Session, row: LabelReadRow) -> LabelReadDetail:
    changes = [
        {
            "revision": c.revision,
            "action": c.action,
            "status": c.status,
            "codes": c.codes,
            "notes": c.notes,
            "by_name": c.by_name,
            "at": c.at,
        }
        for c in domain.history(session, row.id)
    ]
    return LabelReadDetail(**read_out(row).model_dump(), history=changes)  # type: ignore[arg-type]


@router.post(
    "",
    response_model=LabelReadOut,
    status_code=201,
    summary="Read a label photo",
    description="The photo is checked (format by content, byte and pixel limits), read by the OCR service, "
    "stored, and kept with its read. A read whose every code is at or above "
    "`LINESIGHT_LABEL_AUTO_APPROVE_THRESHOLD` (and which the OCR service did not flag) is `approved` at once; "
    "the others are `needs_review`. When the OCR service cannot answer, the answer is 503 (down) or 504 "
    "(too slow) and nothing is stored: send the photo again.",
    responses={
        404: {"description": "Unknown station"},
        409: {"description": "The station is not active"},
        413: {"description": "Image over the byte or pixel limit"},
        415: {"description": "Image format not accepted"},
        422: {"description": "Not an image, an empty or damaged one, or an unknown vendor_hint"},
        502: {"description": "The OCR service failed"},
        503: {"description": "The OCR service cannot be reached; nothing was stored"},
        504: {"description": "The OCR service did not answer in time; nothing was stored"},
    },
)
async def create_label_read(
    principal: Operator,
    session: SessionDep,
    settings: SettingsDep,
    store: PhotoStoreDep,
    ocr: OcrDep,
    file: Annotated[UploadFile, File(description="The label photo: JPEG, PNG, WEBP, BMP or TIFF")],
    station: Annotated[
        str | None, Form(max_length=100, description="Station name", examples=["goods-in-1"])
    ] = None,
    context: Annotated[
        str,
        Form(
            max_length=2000, description="Free text: order, pallet, shift", examples=["inbound pallet 4711"]
        ),
    ] = "",
    vendor_hint: Annotated[
        str | None,
        Form(
            max_length=64, description="Vendor id (`dell`, `hp`, `lenovo`, `ubiquiti`)", examples=["lenovo"]
        ),
    ] = None,
) -> LabelReadOut:
    if "\x00" in context:
        raise Problem(422, "context cannot contain NUL characters.")
    at = (
        await run_in_threadpool(usable_station, session, station, principal, to="read labels")
        if station
        else None
    )
    if at is None:
        require_station(principal, None)
    photo = await file.read(settings.image_max_bytes + 1)
    row = await read_label(
        session,
        photo,
        at,
        principal,
        context=context,
        vendor_hint=vendor_hint or None,
        ocr=ocr,
        store=store,
        limits=photo_limits(settings),
        ocr_timeout=settings.ocr_timeout_seconds,
        auto_approve_threshold=settings.label_auto_approve_threshold,
    )
    return read_out(row)


@router.get(
    "",
    response_model=Page[LabelReadOut],
    summary="Label reads; the review queue is status=needs_review, oldest first",
)
def list_label_reads(
    principal: Viewer,
    session: SessionDep,
    status: ReadStatus | None = None,
    vendor: str | None = Query(None, max_length=64, description="Vendor id", examples=["lenovo"]),
    station: str | None = Query(None, max_length=100, description="Station name"),
    code_type: CodeType | None = Query(None, description="Only reads with a code of this type"),
    code_value: str | None = Query(
        None, min_length=1, max_length=100, description="Only reads with a code value containing this"
    ),
    since: datetime | None = Query(None, description="Read at or after"),
    until: datetime | None = Query(None, description="Read before"),
    sort: Literal["oldest", "newest"] = "oldest",
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=10_000_000),
) -> Page[LabelReadOut]:
    stmt = select(LabelReadRow)
    scope = station_filter(principal, LabelReadRow.station_id)
    if scope is not None:
        stmt = stmt.where(scope)
    if status:
        stmt = stmt.where(LabelReadRow.status == status)
    if vendor:
        stmt = stmt.where(LabelReadRow.vendor_id == vendor.strip().lower())
    if station:
        station_id = session.scalar(select(Station.id).where(Station.name == station))
        stmt = stmt.where(LabelReadRow.station_id == station_id if station_id else false())
    if code_type or code_value:
        code = func.jsonb_array_elements(LabelReadRow.codes).table_valued("value").alias("code")
        match = select(1).select_from(code)
        if code_type:
            match = match.where(code.c.value.op("->>")("type") == code_type)
        if code_value:
            match = match.where(code.c.value.op("->>")("value").icontains(code_value, autoescape=True))
        stmt = stmt.where(match.exists())
    if since:
        stmt = stmt.where(LabelReadRow.created_at >= since)
    if until:
        stmt = stmt.where(LabelReadRow.created_at < until)
    order = LabelReadRow.created_at.asc() if sort == "oldest" else LabelReadRow.created_at.desc()
    rows, total = paginate(session, stmt, order, LabelReadRow.id, limit=limit, offset=offset)
    return Page[LabelReadOut](items=[read_out(r) for r in rows], total=total, limit=limit, offset=offset)


@router.get(
    "/export",
    summary="Reviewed reads as JSON Lines: tokens with their confirmed labels",
    description="Approved and corrected reads only, in the order they were reviewed (`since`/`until` "
    "apply to the review time, so a read corrected again comes again: keep the last line per `read_id`). "
    "One JSON object per line; the format is described in docs/labels.md.",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}, "description": "One read per line"}},
)
def export_label_reads(
    principal: Engineer,
    session: SessionDep,
    session_factory: SessionFactoryDep,
    format: Literal["jsonl"] = "jsonl",
    since: datetime | None = Query(None, description="Reviewed at or after"),
    until: datetime | None = Query(None, description="Reviewed before"),
    vendor: str | None = Query(None, max_length=64, description="Vendor id"),
    station: str | None = Query(None, max_length=100, description="Station name"),
) -> StreamingResponse:
    station_id = get_station(session, station).id if station else None
    require_station(principal, station_id)  # a key limited to stations exports one of its own

    def lines() -> Iterator[bytes]:
        for line in iter_reviewed(
            session_factory,
            since=since,
            until=until,
            vendor=vendor.strip().lower() if vendor else None,
            station_id=station_id,
        ):
            yield (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(
        lines(),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="label-reads-{stamp}.jsonl"'},
    )


def _get(
    session: Session, read_id: uuid.UUID, principal: Principal, *, for_update: bool = False
) -> LabelReadRow:
    row = session.get(LabelReadRow, read_id, with_for_update=for_update)
    if row is None:
        raise NotFound("label read", read_id)
    require_station(principal, row.station_id)
    return row


@router.get("/{read_id}", response_model=LabelReadDetail, summary="One label read, with its history")
def get_label_read(read_id: uuid.UUID, principal: Viewer, session: SessionDep) -> LabelReadDetail:
    return detail_out(session, _get(session, read_id, principal))


@router.get(
    "/{read_id}/image",
    summary="The stored label photo",
    response_class=Response,
    responses={
        200: {"content": {"image/*": {}}, "description": "The photo as it was uploaded"},
        404: {"description": "Unknown read"},
    },
)
def get_label_image(
    read_id: uuid.UUID, principal: Viewer, session: SessionDep, settings: SettingsDep, store: StoreDep
) -> Response:
    row = _get(session, read_id, principal)
    try:
        data = store.get_bytes(settings.bucket("images"), row.image_key)
    except ObjectNotFound:
        raise Problem(404, "The stored photo of this read is missing from object storage.") from None
    return Response(data, media_type=row.image_content_type)


@router.post(
    "/{read_id}/approve",
    response_model=LabelReadDetail,
    summary="Approve a read as it was read",
    responses={
        404: {"description": "Unknown read"},
        409: {"description": "Approved or corrected already"},
        422: {"description": "A code cannot be right (check digit, MAC form): correct it instead"},
    },
)
def approve_label_read(
    read_id: uuid.UUID,
    principal: Operator,
    session: SessionDep,
    body: Annotated[ApprovalIn | None, Body()] = None,
) -> LabelReadDetail:
    row = _get(session, read_id, principal, for_update=True)
    domain.approve(session, row, principal, body.notes if body else "")
    session.commit()  # before answering: an acknowledged review is never lost
    return detail_out(session, row)


@router.post(
    "/{read_id}/corrections",
    response_model=LabelReadDetail,
    summary="Confirm the right codes of a read",
    description="`codes` is the whole confirmed set: corrected values, wrong codes left out, missing ones "
    "added. Each value is checked for its type (GTIN check digits, MAC form). The read becomes `corrected` "
    "(`approved` when the set is exactly what was read); every earlier state stays in its history and the "
    "audit log records the change with before and after. A reviewed read can be corrected again.",
    responses={404: {"description": "Unknown read"}, 422: {"description": "A code value is invalid"}},
)
def correct_label_read(
    read_id: uuid.UUID, body: CorrectionIn, principal: Operator, session: SessionDep
) -> LabelReadDetail:
    row = _get(session, read_id, principal, for_update=True)
    submitted: list[dict[str, Any]] = [c.model_dump() for c in body.codes]
    domain.correct(session, row, submitted, principal, body.notes)
    session.commit()  # before answering: an acknowledged review is never lost
    return detail_out(session, row)
