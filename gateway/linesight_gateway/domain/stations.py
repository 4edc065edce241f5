"""Stations: what each check point expects, and which model judges it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.registry import RegistryClient
from linesight_core.errors import Conflict, NotFound, Problem
from linesight_core.pagination import paginate
from linesight_gateway.db.models import Inspection, LabelRead, Station
from linesight_gateway.domain import audit
from linesight_gateway.domain.access import Principal
from linesight_gateway.domain.people import PeopleDetector
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


# Fields whose change asks the registry again: the model, its alias and the labels checked against it.
MODEL_FIELDS = frozenset({"model_name", "model_alias", "expected_items", "ok_classes", "defect_rules"})


def check_mode_rules(
    mode: str,
    expected: Sequence[Mapping[str, Any]],
    ok_classes: Sequence[str],
    defect_rules: Sequence[Mapping[str, Any]] | None = None,
    mm_per_pixel: float | None = None,
) -> None:
    """What a station of `mode` must name (expected items, OK classes or defect rules), each label once;
    ValueError saying what is missing. Items and rules as stored (dicts)."""
    defect_rules = defect_rules or []
    if mode == "detect" and not expected:
        raise ValueError("a detect station needs at least one expected item")
    if mode == "classify" and not ok_classes:
        raise ValueError("a classify station needs ok_classes: the classes that mean OK")
    if mode == "segment" and not defect_rules:
        raise ValueError("a segment station needs defect_rules: at least one rule naming a defect class")
    if mode != "segment" and defect_rules:
        raise ValueError("defect_rules are for segment stations")
    labels = [e["label"] for e in expected]
    if len(set(labels)) != len(labels):
        raise ValueError("each expected item label may appear once")
    rule_labels = [r["label"] for r in defect_rules]
    if len(set(rule_labels)) != len(rule_labels):
        raise ValueError("each defect rule label may appear once: put all limits of a class in one rule")
    in_mm = [r["label"] for r in defect_rules if r.get("unit") == "mm"]
    if in_mm and mm_per_pixel is None:
        raise ValueError(
            f"the rule{'s' if len(in_mm) > 1 else ''} for {', '.join(in_mm)} {'are' if len(in_mm) > 1 else 'is'} "
            "in mm but the station has no mm_per_pixel: give the camera's calibration (millimetres per "
            "pixel) or set the rules in px"
        )


def _labels(
    expected: Sequence[Mapping[str, Any]], ok_classes: Sequence[str], rules: Sequence[Mapping[str, Any]]
) -> list[str]:
    return [e["label"] for e in expected] + list(ok_classes) + [r["label"] for r in rules]


async def check_people_detector(registry: RegistryClient, people: PeopleDetector) -> None:
    """A station may blur people only if the gateway has a person detector, and it can find people."""
    if people.model is None:
        raise Problem(
            422,
            "This gateway has no person detector, so no station can blur people: set "
            "LINESIGHT_PEOPLE_DETECTOR_MODEL to a registry detect model that finds "
            f"{people.label!r}, or leave blur_people off.",
        )
    await check_against_model(
        registry, mode="detect", model_name=people.model, alias=people.alias, labels=[people.label]
    )


def _roi(roi: Sequence[Sequence[float]] | None) -> list[list[float]] | None:
    return [list(p) for p in roi] if roi else None


async def create_station(
    session: Session,
    fields: Mapping[str, Any],
    principal: Principal,
    *,
    registry: RegistryClient,
    people: PeopleDetector,
) -> Station:
    """The new station of `fields` (a checked StationCreate as JSON), its model, alias and classes checked
    against the registry, audited; Conflict when the name is taken."""
    if name_taken(session, fields["name"]):
        raise Conflict(f"A station named {fields['name']!r} exists already.")
    await check_against_model(
        registry,
        mode=fields["mode"],
        model_name=fields["model_name"],
        alias=fields["model_alias"],
        labels=_labels(fields["expected_items"], fields["ok_classes"], fields["defect_rules"]),
    )
    if fields["blur_people"]:
        await check_people_detector(registry, people)
    station = Station(
        name=fields["name"],
        description=fields["description"],
        mode=fields["mode"],
        model_name=fields["model_name"],
        model_alias=fields["model_alias"],
        shadow_alias=fields["shadow_alias"],
        expected_items=list(fields["expected_items"]),
        ok_classes=list(fields["ok_classes"]),
        defect_rules=list(fields["defect_rules"]),
        mm_per_pixel=fields["mm_per_pixel"],
        roi=_roi(fields["roi"]),
        success_threshold=fields["thresholds"]["success"],
        low_confidence_threshold=fields["thresholds"]["low_confidence"],
        blur_faces=fields["blur_faces"],
        blur_people=fields["blur_people"],
        unusual_needs_review=fields["unusual_needs_review"],
        active=fields["active"],
        training=dict(fields["training"]),
    )
    if fields["shadow_alias"] is not None:
        await check_shadow(registry, station, fields["shadow_alias"])
    session.add(station)
    session.flush()
    audit.record(session, principal, "station.create", "station", str(station.id), {"name": station.name})
    session.refresh(station)
    return station


# Fields a change copies as they come when given (null means "leave as it is" for these).
_PLAIN_FIELDS = ("description", "blur_faces", "blur_people", "unusual_needs_review", "active", "training")


async def update_station(
    session: Session,
    station_id: uuid.UUID,
    changes: Mapping[str, Any],
    principal: Principal,
    *,
    registry: RegistryClient,
    people: PeopleDetector,
) -> Station:
    """The station with `changes` (the fields a StationUpdate set, as JSON) applied, the result checked as
    a whole (mode rules, model and classes, shadow alias) and audited; NotFound for an unknown id."""
    station = get_station(session, station_id)
    expected = changes.get("expected_items")
    expected = expected if expected is not None else station.expected_items
    ok_classes = changes.get("ok_classes")
    ok_classes = ok_classes if ok_classes is not None else station.ok_classes
    rules = changes.get("defect_rules")
    rules = rules if rules is not None else station.defect_rules or []
    # null is a value here: no calibration, the whole photo
    mm_per_pixel = changes["mm_per_pixel"] if "mm_per_pixel" in changes else station.mm_per_pixel
    try:
        check_mode_rules(station.mode, expected, ok_classes, rules, mm_per_pixel)
    except ValueError as exc:
        raise Problem(422, str(exc)) from None
    model_name = changes.get("model_name") or station.model_name
    alias = changes.get("model_alias") or station.model_alias
    if MODEL_FIELDS & changes.keys():
        await check_against_model(
            registry,
            mode=station.mode,
            model_name=model_name,
            alias=alias,
            labels=_labels(expected, ok_classes, rules),
        )
    if changes.get("blur_people"):
        await check_people_detector(registry, people)
    station.model_name, station.model_alias = model_name, alias
    station.expected_items = list(expected)
    station.ok_classes = list(ok_classes)
    station.defect_rules = list(rules)
    station.mm_per_pixel = mm_per_pixel
    if "roi" in changes:
        station.roi = _roi(changes["roi"])
    if "shadow_alias" in changes:
        station.shadow_alias = changes["shadow_alias"]
    if station.shadow_alias is not None and (MODEL_FIELDS | {"shadow_alias"}) & changes.keys():
        await check_shadow(registry, station, station.shadow_alias)
    thresholds = changes.get("thresholds")
    if thresholds is not None:
        station.success_threshold = thresholds["success"]
        station.low_confidence_threshold = thresholds["low_confidence"]
    for field in _PLAIN_FIELDS:
        if changes.get(field) is not None:
            setattr(station, field, changes[field])
    touch(station)
    audit.record(session, principal, "station.update", "station", str(station.id), dict(changes))
    session.flush()
    return station
