"""Replays of a station's verified inspections through a model version, next to the version in production:
start one (a background job, 202), follow its progress, cancel it, and find the replays of a version."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from linesight_core.clients.errors import UpstreamError
from linesight_core.contracts.registry import MAX_VERSION, NAME_PATTERN
from linesight_core.errors import Conflict, NotFound
from linesight_core.pagination import paginate
from linesight_gateway.api.deps import Engineer, RegistryDep, SessionDep, SettingsDep
from linesight_gateway.api.replay_schemas import ReplayIn, ReplayJobOut, ReplayPage, job_out
from linesight_gateway.db.models import ReplayJob
from linesight_gateway.domain import audit, replays
from linesight_gateway.domain.station_scope import require_station, station_filter
from linesight_gateway.domain.stations import get_station

router = APIRouter(tags=["replays"])

STATION_REPLAYS = "/api/v1/stations/{station_id}/replays"


def _job(session, station_id: uuid.UUID, job_id: uuid.UUID) -> ReplayJob:  # type: ignore[no-untyped-def]
    job = session.get(ReplayJob, job_id)
    if job is None or job.station_id != station_id:
        raise NotFound("replay", job_id)
    return job


@router.post(
    STATION_REPLAYS,
    response_model=ReplayJobOut,
    status_code=202,
    summary="Replay the station's verified inspections through a model version",
    description="Queues a background job that replays the station's inspections with operator feedback "
    "(the last N, or those in a time window) through the given version and through the version the "
    "station serves now, both asked the same way at replay priority, and reports both against the "
    "operators' truth. Follow it with GET .../replays/{job_id}.",
    responses={
        404: {"description": "Unknown station, model or version"},
        409: {"description": "No verified inspection to replay, or nothing in production to compare with"},
        422: {"description": "The version does another task than the station, or lacks its classes"},
    },
)
async def start_replay(
    station_id: uuid.UUID,
    body: ReplayIn,
    principal: Engineer,
    session: SessionDep,
    registry: RegistryDep,
    settings: SettingsDep,
) -> Response:
    station = await run_in_threadpool(get_station, session, station_id)
    require_station(principal, station.id)
    version = await registry.resolve(body.model, version=body.version)
    replays.check_version(station, version)
    try:
        baseline = await registry.resolve(station.model_name, alias=station.model_alias)
    except UpstreamError as exc:
        if exc.status != 404:
            raise
        raise Conflict(
            f"Station {station.name} serves {station.model_name} under alias {station.model_alias}, which "
            f"points at no version ({exc.detail}): there is nothing in production to compare with.",
        ) from None
    limit = settings.replay_max_inspections
    ids = await run_in_threadpool(
        replays.select_verified,
        session,
        station.id,
        last_n=body.last_n,
        since=body.since,
        until=body.until,
        limit=limit,
    )
    if not ids:
        where = "" if body.last_n is not None else " in the time window asked for"
        raise Conflict(
            f"Station {station.name} has no verified inspections{where} (completed inspections with "
            "operator feedback), so there is nothing to replay. Give feedback on its inspections first.",
        )
    selection = body.selection() | {"limit": limit}
    job = await run_in_threadpool(
        replays.new_job, session, station, version, baseline, ids, selection, principal
    )
    audit.record(
        session,
        principal,
        "replay.create",
        "replay",
        str(job.id),
        {"station": station.name, "model": job.model_name, "version": job.model_version, "total": job.total},
    )
    await run_in_threadpool(session.commit)
    await run_in_threadpool(session.refresh, job)
    return JSONResponse(
        job_out(job).model_dump(mode="json"),
        status_code=202,
        headers={"Location": f"/api/v1/stations/{station.id}/replays/{job.id}"},
    )


@router.get(STATION_REPLAYS, response_model=ReplayPage, summary="The station's replays, newest first")
def list_station_replays(
    station_id: uuid.UUID,
    principal: Engineer,
    session: SessionDep,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> ReplayPage:
    station = get_station(session, station_id)
    require_station(principal, station.id)
    stmt = select(ReplayJob).where(ReplayJob.station_id == station.id)
    rows, total = paginate(
        session, stmt, ReplayJob.created_at.desc(), ReplayJob.id, limit=limit, offset=offset
    )
    return ReplayPage(items=[job_out(j) for j in rows], total=total, limit=limit, offset=offset)


@router.get(
    STATION_REPLAYS + "/{job_id}", response_model=ReplayJobOut, summary="One replay: status, progress, report"
)
def get_replay(
    station_id: uuid.UUID, job_id: uuid.UUID, principal: Engineer, session: SessionDep
) -> ReplayJobOut:
    require_station(principal, station_id)
    return job_out(_job(session, station_id, job_id))


@router.post(
    STATION_REPLAYS + "/{job_id}/cancel",
    response_model=ReplayJobOut,
    status_code=202,
    summary="Cancel a replay",
    description="A queued replay is cancelled at once; a running one stops at its next step and keeps the "
    "report of what it replayed. A finished one: 409.",
    responses={409: {"description": "The replay has already finished"}},
)
def cancel_replay(
    station_id: uuid.UUID, job_id: uuid.UUID, principal: Engineer, session: SessionDep
) -> ReplayJobOut:
    require_station(principal, station_id)
    job = session.get(ReplayJob, job_id, with_for_update=True)
    if job is None or job.station_id != station_id:
        raise NotFound("replay", job_id)
    replays.request_cancel(session, job)
    audit.record(session, principal, "replay.cancel", "replay", str(job.id), {"status": job.status})
    session.commit()
    return job_out(job)


@router.get(
    "/api/v1/models/{name}/versions/{version}/replays",
    response_model=ReplayPage,
    summary="The replays of a model version, at every station, newest first",
)
def list_version_replays(
    name: Annotated[str, Path(pattern=NAME_PATTERN, examples=["bench-tools"])],
    version: Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version number")],
    principal: Engineer,
    session: SessionDep,
    status: Annotated[str | None, Query(pattern="^(queued|running|completed|failed|cancelled)$")] = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> ReplayPage:
    stmt = select(ReplayJob).where(ReplayJob.model_name == name, ReplayJob.model_version == version)
    if status is not None:
        stmt = stmt.where(ReplayJob.status == status)
    scope = station_filter(principal, ReplayJob.station_id)
    if scope is not None:
        stmt = stmt.where(scope)
    rows, total = paginate(
        session, stmt, ReplayJob.created_at.desc(), ReplayJob.id, limit=limit, offset=offset
    )
    return ReplayPage(items=[job_out(j) for j in rows], total=total, limit=limit, offset=offset)
