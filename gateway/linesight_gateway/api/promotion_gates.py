"""Promotion gates: a station or a model requires a passing replay of verified history before the model's
`production` alias moves (domain/promotion_gate.py). Admins set and remove gates; anyone reads them.

The registry is told whether a model is gated, so that a training run's auto-promotion only stages its
version there; it is told before a new gate is committed and after the last gate is removed, so that a
failure in between leaves the model gated (the safe side), never ungated with a gate in place."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Response
from sqlalchemy import delete
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from linesight_core.clients.registry import RegistryClient
from linesight_core.contracts.registry import ModelOut
from linesight_core.errors import Conflict, Problem
from linesight_gateway.api.deps import Admin, RegistryDep, SessionDep, SettingsDep, Viewer
from linesight_gateway.api.models import ModelName
from linesight_gateway.api.promotion_gate_schemas import (
    JudgedStation,
    ModelGateIn,
    ModelGateOut,
    StationGateIn,
    gate_out,
)
from linesight_gateway.db.models import PromotionGate, Station
from linesight_gateway.domain import audit
from linesight_gateway.domain.access import Principal
from linesight_gateway.domain.promotion_gate import GUARDED_ALIAS, gates_of, judged_stations, serving_stations
from linesight_gateway.domain.station_scope import require_station
from linesight_gateway.domain.stations import get_station

router = APIRouter(tags=["promotion gates"])

MODEL_GATE = "/api/v1/models/{name}/promotion-gate"
STATION_GATE = "/api/v1/stations/{station_id}/promotion-gate"
BAD_INPUT = {
    404: {"description": "Unknown model or station"},
    422: {"description": "A station of another task, or one that does not serve the model's production"},
}


async def _flag(registry: RegistryClient, name: str, gated: bool, principal: Principal) -> None:
    await registry.request(
        "PUT", f"/v1/models/{name}/promotion-gate", json={"gated": gated}, actor=principal.name
    )


def check_station(station: Station, model: ModelOut) -> None:
    """A station judges a model's versions only if it does the model's task and serves its production."""
    if station.mode != model.task:
        raise Problem(
            422,
            f"Station {station.name} is a {station.mode} station, but {model.name} is a {model.task} model: "
            f"its replays cannot judge {model.name}'s versions. Gate {model.name} on {model.task} stations.",
        )
    if station.model_name != model.name or station.model_alias != GUARDED_ALIAS:
        raise Problem(
            422,
            f"Station {station.name} serves {station.model_name} under alias {station.model_alias}, not "
            f"{model.name} under {GUARDED_ALIAS}: its replays compare with another version than the one "
            f"the gate guards.",
        )


def model_gate_out(session: Session, name: str) -> ModelGateOut:
    gates = gates_of(session, name)
    judged = judged_stations(session, name, gates)
    return ModelGateOut(
        model_name=name,
        gated=bool(gates),
        gates=[gate_out(g) for g in gates],
        judged_by=[JudgedStation(station_id=s.id, station=s.name, min_verified=n) for s, n in judged],
    )


def _write_gates(
    session: Session, name: str, station_ids: list[uuid.UUID | None], minimum: int, by: Principal
) -> None:
    now = datetime.now(UTC)
    for station_id in station_ids:
        session.add(
            PromotionGate(
                model_name=name,
                station_id=station_id,
                min_verified=minimum,
                created_by_name=by.name,
                created_at=now,
                updated_at=now,
            )
        )
    session.flush()


@router.get(MODEL_GATE, response_model=ModelGateOut, summary="The model's promotion gates")
def get_model_gate(name: ModelName, principal: Viewer, session: SessionDep) -> ModelGateOut:
    return model_gate_out(session, name)


@router.put(
    MODEL_GATE,
    response_model=ModelGateOut,
    summary="Gate the model's promotions on replays of verified history",
    description="Replaces the model's gates. Without `stations`, every station serving the model's "
    "production judges each promotion; with it, those stations (each must serve the model's production). "
    "From now on production moves only to a version whose latest replay at each judging station is at "
    "least as good as production on verdict accuracy and NOK recall, on at least `min_verified` verified "
    "inspections; a training run's auto-promotion only stages.",
    responses=BAD_INPUT | {409: {"description": "No station serves the model's production"}},
)
async def put_model_gate(
    registry: RegistryDep,
    settings: SettingsDep,
    name: ModelName,
    body: ModelGateIn,
    principal: Admin,
    session: SessionDep,
) -> ModelGateOut:
    model = await registry.get_model(name)
    minimum = body.min_verified or settings.promotion_gate_min_verified
    targets: list[uuid.UUID | None]
    if body.stations is None:
        if not await run_in_threadpool(serving_stations, session, name):
            raise Conflict(
                f"No active station serves {name} under {GUARDED_ALIAS}: a gate would have no verified "
                "history to judge by. Point a station at it first, or name the stations.",
            )
        targets = [None]
    else:
        targets = list(dict.fromkeys(body.stations))
        for station_id in targets:
            assert station_id is not None
            station = await run_in_threadpool(get_station, session, station_id)
            require_station(principal, station.id)
            check_station(station, model)
    await run_in_threadpool(session.execute, delete(PromotionGate).where(PromotionGate.model_name == name))
    await run_in_threadpool(_write_gates, session, name, targets, minimum, principal)
    await _flag(registry, name, True, principal)
    details = {"min_verified": minimum, "stations": [str(s) for s in targets if s] or "every serving station"}
    audit.record(session, principal, "model.promotion_gate_set", "model", name, details)
    return await run_in_threadpool(model_gate_out, session, name)


@router.delete(MODEL_GATE, status_code=204, summary="Remove every promotion gate of the model")
async def delete_model_gate(
    registry: RegistryDep, name: ModelName, principal: Admin, session: SessionDep
) -> Response:
    await registry.get_model(name)
    await run_in_threadpool(session.execute, delete(PromotionGate).where(PromotionGate.model_name == name))
    audit.record(session, principal, "model.promotion_gate_delete", "model", name, {})
    await run_in_threadpool(session.commit)
    await _flag(registry, name, False, principal)
    return Response(status_code=204)


@router.get(
    STATION_GATE,
    response_model=ModelGateOut,
    summary="The promotion gates of the model the station serves",
)
def get_station_gate(station_id: uuid.UUID, principal: Viewer, session: SessionDep) -> ModelGateOut:
    station = get_station(session, station_id)
    require_station(principal, station.id)
    return model_gate_out(session, station.model_name)


@router.put(
    STATION_GATE,
    response_model=ModelGateOut,
    summary="Require a passing replay at this station before its model's production moves",
    description="Sets (or changes) the station's gate on the model it serves under production; the "
    "model's other gates stay.",
    responses=BAD_INPUT,
)
async def put_station_gate(
    registry: RegistryDep,
    settings: SettingsDep,
    station_id: uuid.UUID,
    body: StationGateIn,
    principal: Admin,
    session: SessionDep,
) -> ModelGateOut:
    station = await run_in_threadpool(get_station, session, station_id)
    require_station(principal, station.id)
    model = await registry.get_model(station.model_name)
    check_station(station, model)
    minimum = body.min_verified or settings.promotion_gate_min_verified
    await run_in_threadpool(
        session.execute,
        delete(PromotionGate).where(
            PromotionGate.model_name == model.name, PromotionGate.station_id == station.id
        ),
    )
    await run_in_threadpool(_write_gates, session, model.name, [station.id], minimum, principal)
    await _flag(registry, model.name, True, principal)
    audit.record(
        session,
        principal,
        "station.promotion_gate_set",
        "station",
        str(station.id),
        {"model": model.name, "min_verified": minimum},
    )
    return await run_in_threadpool(model_gate_out, session, model.name)


@router.delete(STATION_GATE, status_code=204, summary="Remove the station's promotion gate")
async def delete_station_gate(
    registry: RegistryDep, station_id: uuid.UUID, principal: Admin, session: SessionDep
) -> Response:
    station = await run_in_threadpool(get_station, session, station_id)
    require_station(principal, station.id)
    removed = await run_in_threadpool(
        session.scalars,
        delete(PromotionGate)
        .where(PromotionGate.station_id == station.id)
        .returning(PromotionGate.model_name),
    )
    models = sorted(set(removed))
    audit.record(
        session, principal, "station.promotion_gate_delete", "station", str(station.id), {"models": models}
    )
    await run_in_threadpool(session.commit)
    for name in models:
        if not await run_in_threadpool(gates_of, session, name):
            await _flag(registry, name, False, principal)
    return Response(status_code=204)
