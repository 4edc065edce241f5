"""Stations: CRUD for admins, reads for everyone with a key, and the station's reference photo."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Query, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from linesight_core.clients.registry import RegistryClient
from linesight_core.errors import Conflict, Problem
from linesight_core.image_metadata import strip_metadata
from linesight_core.images import decode_image
from linesight_core.storage import ObjectNotFound
from linesight_gateway.api.deps import Admin, RegistryDep, SessionDep, SettingsDep, StoreDep, Viewer
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
    check_mode_rules,
)
from linesight_gateway.db.models import Station
from linesight_gateway.domain import audit
from linesight_gateway.domain import stations as domain
from linesight_gateway.domain.station_scope import require_station, station_filter
from linesight_gateway.settings import GatewaySettings

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


def _labels(expected: list[ExpectedItem], ok_classes: list[str], rules: list[DefectRule]) -> list[str]:
    return [e.label for e in expected] + list(ok_classes) + [r.label for r in rules]


async def _check_people_detector(registry: RegistryClient, settings: GatewaySettings) -> None:
    """A station may blur people only if the gateway has a person detector, and it can find people."""
    if settings.people_detector_model is None:
        raise Problem(
            422,
            "This gateway has no person detector, so no station can blur people: set "
            "LINESIGHT_PEOPLE_DETECTOR_MODEL to a registry detect model that finds "
            f"{settings.people_detector_label!r}, or leave blur_people off.",
        )
    await domain.check_against_model(
        registry,
        mode="detect",
        model_name=settings.people_detector_model,
        alias=settings.people_detector_alias,
        labels=[settings.people_detector_label],
    )


@router.post("", response_model=StationOut, status_code=201, summary="Create a station")
async def create_station(
    body: StationCreate, principal: Admin, session: SessionDep, registry: RegistryDep, settings: SettingsDep
) -> StationOut:
    if domain.name_taken(session, body.name):
        raise Conflict(f"A station named {body.name!r} exists already.")
    await domain.check_against_model(
        registry,
        mode=body.mode,
        model_name=body.model_name,
        alias=body.model_alias,
        labels=_labels(body.expected_items, body.ok_classes, body.defect_rules),
    )
    if body.blur_people:
        await _check_people_detector(registry, settings)
    station = Station(
        name=body.name,
        description=body.description,
        mode=body.mode,
        model_name=body.model_name,
        model_alias=body.model_alias,
        shadow_alias=body.shadow_alias,
        expected_items=[e.model_dump() for e in body.expected_items],
        ok_classes=body.ok_classes,
        defect_rules=[r.model_dump() for r in body.defect_rules],
        mm_per_pixel=body.mm_per_pixel,
        roi=[list(p) for p in body.roi] if body.roi else None,
        success_threshold=body.thresholds.success,
        low_confidence_threshold=body.thresholds.low_confidence,
        blur_faces=body.blur_faces,
        blur_people=body.blur_people,
        unusual_needs_review=body.unusual_needs_review,
        active=body.active,
        training=body.training.model_dump(),
    )
    if body.shadow_alias is not None:
        await domain.check_shadow(registry, station, body.shadow_alias)
    session.add(station)
    session.flush()
    audit.record(session, principal, "station.create", "station", str(station.id), {"name": station.name})
    session.refresh(station)
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
    settings: SettingsDep,
) -> StationOut:
    station = domain.get_station(session, station_id)
    changes = body.model_dump(exclude_unset=True)
    expected = (
        body.expected_items
        if body.expected_items is not None
        else [ExpectedItem(**e) for e in station.expected_items]
    )
    ok_classes = body.ok_classes if body.ok_classes is not None else station.ok_classes
    rules = (
        body.defect_rules
        if body.defect_rules is not None
        else [DefectRule(**r) for r in station.defect_rules or []]
    )
    # null is a value here: no calibration, the whole photo
    mm_per_pixel = body.mm_per_pixel if "mm_per_pixel" in changes else station.mm_per_pixel
    roi = [list(p) for p in body.roi] if body.roi else None
    try:
        check_mode_rules(station.mode, expected, ok_classes, rules, mm_per_pixel)
    except ValueError as exc:
        raise Problem(422, str(exc)) from None
    model_name = body.model_name or station.model_name
    alias = body.model_alias or station.model_alias
    if {"model_name", "model_alias", "expected_items", "ok_classes", "defect_rules"} & changes.keys():
        await domain.check_against_model(
            registry,
            mode=station.mode,
            model_name=model_name,
            alias=alias,
            labels=_labels(expected, ok_classes, rules),
        )
    if body.blur_people:
        await _check_people_detector(registry, settings)
    station.model_name, station.model_alias = model_name, alias
    station.expected_items = [e.model_dump() for e in expected]
    station.ok_classes = list(ok_classes)
    station.defect_rules = [r.model_dump() for r in rules]
    station.mm_per_pixel = mm_per_pixel
    if "roi" in changes:
        station.roi = roi
    if "shadow_alias" in changes:
        station.shadow_alias = body.shadow_alias
    if (
        station.shadow_alias is not None
        and {"shadow_alias", "model_name", "model_alias", "expected_items", "ok_classes", "defect_rules"}
        & changes.keys()
    ):
        await domain.check_shadow(registry, station, station.shadow_alias)
    if body.description is not None:
        station.description = body.description
    if body.thresholds is not None:
        station.success_threshold = body.thresholds.success
        station.low_confidence_threshold = body.thresholds.low_confidence
    if body.blur_faces is not None:
        station.blur_faces = body.blur_faces
    if body.blur_people is not None:
        station.blur_people = body.blur_people
    if body.unusual_needs_review is not None:
        station.unusual_needs_review = body.unusual_needs_review
    if body.active is not None:
        station.active = body.active
    if body.training is not None:
        station.training = body.training.model_dump()
    domain.touch(station)
    audit.record(
        session,
        principal,
        "station.update",
        "station",
        str(station.id),
        {k: v for k, v in body.model_dump(exclude_unset=True, mode="json").items()},
    )
    session.flush()
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
