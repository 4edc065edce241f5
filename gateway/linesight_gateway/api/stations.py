"""Stations: CRUD for admins, reads for everyone with a key, and the station's reference photo."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from linesight_core.errors import Problem
from linesight_core.image_metadata import strip_metadata
from linesight_core.images import decode_image
from linesight_core.storage import ObjectNotFound
from linesight_gateway.api.deps import (
    Admin,
    PeopleDetectorDep,
    RegistryDep,
    SessionDep,
    SettingsDep,
    StoreDep,
    Viewer,
)
from linesight_gateway.api.station_schemas import (
    DefectRule,
    ExpectedItem,
    Mode,
    StationCreate,
    StationOut,
    StationPage,
    StationUpdate,
    Thresholds,
    TrainingPolicy,
)
from linesight_gateway.db.models import Station
from linesight_gateway.domain import audit
from linesight_gateway.domain import stations as domain
from linesight_gateway.domain.station_scope import require_station, station_filter

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])


def station_out(s: Station) -> StationOut:
    return StationOut(
        id=s.id,
        name=s.name,
        description=s.description,
        mode=s.mode,  # type: ignore[arg-type]
        model_name=s.model_name,
        model_alias=s.model_alias,
        shadow_alias=s.shadow_alias,
        expected_items=[ExpectedItem(**e) for e in s.expected_items],
        ok_classes=s.ok_classes,
        defect_rules=[DefectRule(**r) for r in s.defect_rules or []],
        mm_per_pixel=s.mm_per_pixel,
        roi=[(x, y) for x, y in s.roi] if s.roi else None,
        thresholds=Thresholds(success=s.success_threshold, low_confidence=s.low_confidence_threshold),
        has_reference_image=s.reference_image_key is not None,
        blur_faces=s.blur_faces,
        blur_people=s.blur_people,
        unusual_needs_review=s.unusual_needs_review,
        active=s.active,
        training=TrainingPolicy(**(s.training or {})),
        training_state=s.training_state or {},
        created_at=s.created_at,
        updated_at=s.updated_at,
    )


@router.post("", response_model=StationOut, status_code=201, summary="Create a station")
async def create_station(
    body: StationCreate,
    principal: Admin,
    session: SessionDep,
    registry: RegistryDep,
    people: PeopleDetectorDep,
) -> StationOut:
    station = await domain.create_station(
        session, body.model_dump(mode="json"), principal, registry=registry, people=people
    )
    return station_out(station)


@router.get("", response_model=StationPage, summary="List stations")
def list_stations(
    principal: Viewer,
    session: SessionDep,
    active: bool | None = None,
    mode: Mode | None = None,
    q: str | None = Query(None, max_length=100, description="Part of the name"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> StationPage:
    items, total = domain.list_stations(
        session,
        active=active,
        mode=mode,
        q=q,
        limit=limit,
        offset=offset,
        scope=station_filter(principal, Station.id),
    )
    return StationPage(items=[station_out(s) for s in items], total=total, limit=limit, offset=offset)


@router.get("/{station_id}", response_model=StationOut, summary="One station")
def get_station(station_id: uuid.UUID, principal: Viewer, session: SessionDep) -> StationOut:
    require_station(principal, station_id)
    return station_out(domain.get_station(session, station_id))


@router.patch("/{station_id}", response_model=StationOut, summary="Change a station")
async def update_station(
    station_id: uuid.UUID,
    body: StationUpdate,
    principal: Admin,
    session: SessionDep,
    registry: RegistryDep,
    people: PeopleDetectorDep,
) -> StationOut:
    changes = body.model_dump(exclude_unset=True, mode="json")
    station = await domain.update_station(
        session, station_id, changes, principal, registry=registry, people=people
    )
    return station_out(station)


@router.delete(
    "/{station_id}",
    status_code=204,
    summary="Delete a station that has no inspections",
    responses={409: {"description": "The station has inspections: deactivate it instead"}},
)
def delete_station(station_id: uuid.UUID, principal: Admin, session: SessionDep) -> None:
    station = domain.get_station(session, station_id)
    domain.check_deletable(session, station)
    audit.record(session, principal, "station.delete", "station", str(station.id), {"name": station.name})
    session.delete(station)


@router.put("/{station_id}/reference-image", response_model=StationOut, summary="Set the reference photo")
async def put_reference_image(
    station_id: uuid.UUID,
    principal: Admin,
    session: SessionDep,
    settings: SettingsDep,
    store: StoreDep,
    image: Annotated[UploadFile, File(description="JPEG, PNG, WEBP, BMP or TIFF")],
) -> StationOut:
    station = domain.get_station(session, station_id)
    data = await image.read(settings.image_max_bytes + 1)
    decoded = decode_image(data, max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels)
    data = await run_in_threadpool(strip_metadata, data, max_pixels=settings.image_max_pixels)
    stored = await run_in_threadpool(
        store.put_bytes,
        settings.bucket("images"),
        f"stations/{station.id}/reference-{uuid.uuid4().hex}",
        data,
        content_type=f"image/{decoded.format.lower()}",
    )
    station.reference_image_key = stored.key
    domain.touch(station)
    audit.record(
        session,
        principal,
        "station.reference_image",
        "station",
        str(station.id),
        {"sha256": stored.sha256, "size_bytes": stored.size},
    )
    session.flush()
    return station_out(station)


@router.get(
    "/{station_id}/reference-image",
    summary="The reference photo",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"image/*": {}}, "description": "The photo as it was uploaded"},
        404: {"description": "No station or no photo"},
    },
)
def get_reference_image(  # type: ignore[no-untyped-def]
    station_id: uuid.UUID, principal: Viewer, session: SessionDep, settings: SettingsDep, store: StoreDep
):
    require_station(principal, station_id)
    station = domain.get_station(session, station_id)
    if station.reference_image_key is None:
        raise Problem(404, f"Station {station.name!r} has no reference photo.")
    bucket = settings.bucket("images")
    try:
        photo = store.open(bucket, station.reference_image_key)
    except ObjectNotFound:
        raise Problem(
            404,
            f"The reference photo of station {station.name!r} is gone from object storage (deleted or "
            "lost there); upload it again with PUT .../reference-image.",
            title="Photo missing from storage",
        ) from None
    return StreamingResponse(photo.chunks, media_type=photo.content_type)
