"""Inspections: send a photo, get OK / NOK; list, read, and fetch the photo plain or annotated."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, Query, Response, UploadFile
from fastapi.responses import JSONResponse
from PIL import Image, ImageOps
from sqlalchemy import select, text
from starlette.concurrency import run_in_threadpool

from linesight_core.contracts.registry import MAX_VERSION
from linesight_core.errors import NotFound, Problem
from linesight_core.pagination import paginate
from linesight_core.storage import ObjectNotFound, ObjectStore
from linesight_gateway.api.deps import (
    InspectionServicesDep,
    Operator,
    SessionDep,
    SettingsDep,
    ShadowDep,
    StoreDep,
    Viewer,
)
from linesight_gateway.api.inspection_schemas import InspectionOut, InspectionPage, inspection_out
from linesight_gateway.db.models import Feedback, Inspection
from linesight_gateway.domain.access import Principal
from linesight_gateway.domain.annotate import annotate
from linesight_gateway.domain.inspect_photo import check_photo, inspect
from linesight_gateway.domain.privacy import encode_jpeg
from linesight_gateway.domain.shadow import ShadowJob, ShadowQueue
from linesight_gateway.domain.station_scope import require_station, station_filter
from linesight_gateway.domain.stations import usable_station

router = APIRouter(prefix="/api/v1/inspections", tags=["inspections"])
MAX_BATCH = 16
STATION_EXAMPLE = "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d"


def _offer_later(shadow: ShadowQueue, tasks: BackgroundTasks) -> Callable[[ShadowJob], None]:
    """Starlette runs background tasks after the response is sent: the live answer never waits."""
    return lambda job: tasks.add_task(shadow.offer, job)


@router.post(
    "",
    response_model=InspectionOut,
    status_code=201,
    summary="Inspect one photo at a station",
    responses={
        202: {"model": InspectionOut, "description": "Stored, the model could not answer yet: `pending`"},
        404: {"description": "Unknown station"},
        413: {"description": "Image over the byte or pixel limit"},
        415: {"description": "Image format not accepted"},
        422: {"description": "Not an image, or a damaged one"},
        503: {"description": "The station blurs people and the person detector did not answer: not stored"},
    },
)
async def create_inspection(
    principal: Operator,
    session: SessionDep,
    services: InspectionServicesDep,
    shadow: ShadowDep,
    image: Annotated[UploadFile, File(description="The photo: JPEG, PNG, WEBP, BMP or TIFF")],
    station_id: Annotated[
        uuid.UUID, Form(description="Where the photo was taken", examples=[STATION_EXAMPLE])
    ],
) -> Response:
    station = await run_in_threadpool(usable_station, session, station_id, principal, to="inspect")
    data = await image.read(services.limits.max_bytes + 1)
    later = BackgroundTasks()
    inspection = await inspect(
        session, data, station, principal, services, offer_shadow=_offer_later(shadow, later)
    )
    body = inspection_out(inspection, principal).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if inspection.status == "completed" else 202, background=later)


@router.post(
    "/batch",
    response_model=list[InspectionOut],
    summary="Inspect several photos at one station",
    description="Every photo is validated before any is stored; answers come in the order of the photos. "
    "Each item's `status` says whether it is completed or pending.",
)
async def create_inspections(
    principal: Operator,
    session: SessionDep,
    services: InspectionServicesDep,
    shadow: ShadowDep,
    later: BackgroundTasks,
    images: Annotated[list[UploadFile], File(description=f"Up to {MAX_BATCH} photos")],
    station_id: Annotated[
        uuid.UUID, Form(description="Where the photos were taken", examples=[STATION_EXAMPLE])
    ],
) -> list[InspectionOut]:
    if len(images) > MAX_BATCH:
        raise Problem(413, f"At most {MAX_BATCH} photos per batch; got {len(images)}.")
    station = await run_in_threadpool(usable_station, session, station_id, principal, to="inspect")
    payloads = []
    for n, upload in enumerate(images):
        data = await upload.read(services.limits.max_bytes + 1)
        try:
            checked = await run_in_threadpool(check_photo, data, services.limits)
        except Problem as exc:
            raise Problem(
                exc.status, f"Photo {n + 1} ({upload.filename}): {exc.detail}", title=exc.title
            ) from None
        payloads.append((data, checked))
    offer_shadow = _offer_later(shadow, later)
    answers = []
    for data, checked in payloads:
        inspection = await inspect(
            session, data, station, principal, services, checked=checked, offer_shadow=offer_shadow
        )
        answers.append(inspection_out(inspection, principal))
    return answers


@router.get("", response_model=InspectionPage, summary="Inspection history")
def list_inspections(
    principal: Viewer,
    session: SessionDep,
    station_id: uuid.UUID | None = None,
    status: Literal["completed", "pending"] | None = None,
    verdict: Literal["OK", "NOK"] | None = None,
    confidence_status: Literal["success", "low_confidence", "rejected"] | None = None,
    model_version: int | None = Query(None, ge=1, le=MAX_VERSION),
    since: datetime | None = None,
    until: datetime | None = None,
    has_feedback: bool | None = None,
    unusual: Annotated[
        bool | None, Query(description="true: only photos flagged unusual; false: only the others")
    ] = None,
    sort: Literal["newest", "oldest"] = "newest",
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> InspectionPage:
    if station_id is not None:
        require_station(principal, station_id)
    stmt = select(Inspection)
    scope = station_filter(principal, Inspection.station_id)
    if scope is not None:
        stmt = stmt.where(scope)
    filters = {
        Inspection.station_id: station_id,
        Inspection.status: status,
        Inspection.verdict: verdict,
        Inspection.confidence_status: confidence_status,
        Inspection.model_version: model_version,
    }
    for column, value in filters.items():
        if value is not None:
            stmt = stmt.where(column == value)
    if has_feedback is not None:
        exists = select(Feedback.inspection_id).where(Feedback.inspection_id == Inspection.id).exists()
        stmt = stmt.where(exists if has_feedback else ~exists)
    if unusual is not None:
        usual = Inspection.unusual == text("'[]'::jsonb")
        stmt = stmt.where(~usual if unusual else usual)
    if since:
        stmt = stmt.where(Inspection.created_at >= since)
    if until:
        stmt = stmt.where(Inspection.created_at < until)
    order = Inspection.created_at.desc() if sort == "newest" else Inspection.created_at.asc()
    rows, total = paginate(session, stmt, order, Inspection.id, limit=limit, offset=offset)
    return InspectionPage(
        items=[inspection_out(i, principal) for i in rows], total=total, limit=limit, offset=offset
    )


def _get(session, inspection_id: uuid.UUID, principal: Principal) -> Inspection:  # type: ignore[no-untyped-def]
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("inspection", inspection_id)
    require_station(principal, inspection.station_id)
    return inspection


@router.get("/{inspection_id}", response_model=InspectionOut, summary="One inspection")
def get_inspection(inspection_id: uuid.UUID, principal: Viewer, session: SessionDep) -> InspectionOut:
    return inspection_out(_get(session, inspection_id, principal), principal)


def _image_bytes(store: ObjectStore, bucket: str, inspection: Inspection) -> tuple[bytes, str]:
    try:
        photo = store.open(bucket, inspection.image_key)
    except ObjectNotFound:
        raise Problem(
            404,
            f"The photo of inspection {inspection.id} is gone from object storage (deleted or lost "
            "there); the inspection's answer is kept, the photo cannot be shown.",
            title="Photo missing from storage",
        ) from None
    return b"".join(photo.chunks), photo.content_type


@router.get(
    "/{inspection_id}/image",
    summary="The stored photo",
    response_class=Response,
    responses={
        200: {
            "content": {"image/*": {}},
            "description": "The photo as stored: faces blurred (JPEG) when the station asks for it",
        }
    },
)
def get_image(
    inspection_id: uuid.UUID, principal: Viewer, session: SessionDep, settings: SettingsDep, store: StoreDep
) -> Response:
    inspection = _get(session, inspection_id, principal)
    data, content_type = _image_bytes(store, settings.bucket("images"), inspection)
    return Response(data, media_type=content_type)


@router.get(
    "/{inspection_id}/annotated",
    summary="The photo with boxes, labels and the verdict drawn",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "A JPEG of the upright photo"}},
)
def get_annotated(
    inspection_id: uuid.UUID, principal: Viewer, session: SessionDep, settings: SettingsDep, store: StoreDep
) -> Response:
    inspection = _get(session, inspection_id, principal)
    data, _ = _image_bytes(store, settings.bucket("images"), inspection)
    with Image.open(io.BytesIO(data)) as raw:
        img = ImageOps.exif_transpose(raw) or raw  # boxes are in the upright image's pixels
        dets = [p for p in inspection.predictions if "box" in p]
        drawn = annotate(img, dets, inspection.verdict)
    return Response(encode_jpeg(drawn, quality=88), media_type="image/jpeg")
