"""Stations: what each check point expects, and which model judges it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.registry import RegistryClient
from linesight_core.errors import Conflict, NotFound, Problem
from linesight_core.pagination import paginate
from linesight_gateway.db.models import Inspection, LabelRead, Station
from linesight_gateway.domain.access import Principal
from linesight_gateway.domain.replays import check_version
from linesight_gateway.domain.station_scope import require_station


def get_station(session: Session, key: uuid.UUID | str) -> Station:
    """The station with this id (a UUID) or this name (a str); NotFound otherwise."""
    if isinstance(key, uuid.UUID):
        station = session.get(Station, key)
        if station is None:
            raise NotFound("station", key)
        return station
    found = session.scalar(select(Station).where(Station.name == key))
    if found is None:
        raise NotFound("station", key, by="name")
    return found


def usable_station(session: Session, key: uuid.UUID | str, principal: Principal, *, to: str) -> Station:
    """The station the caller works at `to` do something (inspect, read labels): one of the caller's
    stations (checked before the lookup when the key is an id), and active."""
    if isinstance(key, uuid.UUID):
        require_station(principal, key)
    station = get_station(session, key)
    if not station.active:
        raise Conflict(f"Station {station.name!r} is not active; activate it to {to} there.")
    if not isinstance(key, uuid.UUID):
        require_station(principal, station.id)
    return station


def check_deletable(session: Session, station: Station) -> None:
    """A station's inspections are its history (and feedback, training data): deleting it must not
    take them along, so a station with inspections is refused with what to do instead."""
    inspections = session.scalar(select(func.count()).where(Inspection.station_id == station.id)) or 0
    if not inspections:
        return
    reads = session.scalar(select(func.count()).where(LabelRead.station_id == station.id)) or 0
    read_text = f" and {reads} label read{'' if reads == 1 else 's'}" if reads else ""
    raise Problem(
        409,
        f"Station {station.name!r} has {inspections} inspection{'' if inspections == 1 else 's'}"
        f"{read_text}; deleting it would lose their history. Deactivate it instead "
        f'(PATCH /api/v1/stations/{station.id} with {{"active": false}}): it then takes no new '
        "inspections and its history stays.",
        title="Station in use",
        inspections=inspections,
        label_reads=reads,
    )


def name_taken(session: Session, name: str, exclude: uuid.UUID | None = None) -> bool:
    stmt = select(Station.id).where(Station.name == name)
    if exclude:
        stmt = stmt.where(Station.id != exclude)
    return session.scalar(stmt) is not None


def list_stations(
    session: Session,
    *,
    active: bool | None,
    mode: str | None,
    q: str | None,
    limit: int,
    offset: int,
    scope: ColumnElement[bool] | None = None,
) -> tuple[list[Station], int]:
    stmt = select(Station)
    if scope is not None:
        stmt = stmt.where(scope)
    if active is not None:
        stmt = stmt.where(Station.active.is_(active))
    if mode:
        stmt = stmt.where(Station.mode == mode)
    if q:
        stmt = stmt.where(Station.name.contains(q, autoescape=True))
    return paginate(session, stmt, Station.name, limit=limit, offset=offset)


async def check_against_model(
    registry: RegistryClient, *, mode: str, model_name: str, alias: str, labels: list[str]
) -> None:
    """The model must exist with the station's task; when the alias already points at a version, every
    label the station names must be one of that version's classes."""
    try:
        model = await registry.get_model(model_name)
    except UpstreamError as exc:
        if exc.status == 404:
            raise Problem(422, f"The registry has no model named {model_name!r}; create it first.") from None
        raise
    if model.task != mode:
        raise Problem(
            422, f"Model {model_name!r} is a {model.task} model; a {mode} station needs a {mode} model."
        )
    try:
        version = await registry.resolve(model_name, alias=alias)
    except UpstreamError as exc:
        if exc.status == 404:
            return  # no version under that alias yet: labels are checked at inspection time
        raise
    known = set(version.class_names.values())
    unknown = sorted(set(labels) - known)
    if unknown:
        raise Problem(
            422,
            f"{', '.join(unknown)} {'is' if len(unknown) == 1 else 'are'} not a class of {model_name!r} "
            f"version {version.version} ({alias}); its classes are {', '.join(sorted(known))}.",
        )


async def check_shadow(registry: RegistryClient, station: Station, alias: str) -> None:
    """A shadow alias must be another alias of the station's model that points at a version doing the
    station's task with its classes."""
    if alias == station.model_alias:
        raise Problem(
            422,
            f"The shadow alias {alias!r} is the alias station {station.name!r} is served by; name another "
            "alias (for example staging) or null to turn shadow mode off.",
        )
    try:
        version = await registry.resolve(station.model_name, alias=alias)
    except UpstreamError as exc:
        if exc.status == 404:
            raise Problem(
                422,
                f"Model {station.model_name!r} has no version under alias {alias!r}, so it cannot answer "
                f"in the shadow; point the alias at a version first (PUT /api/v1/models/"
                f"{station.model_name}/aliases/{alias}).",
            ) from None
        raise
    check_version(station, version)


def touch(station: Station) -> None:
    station.updated_at = datetime.now(UTC)
