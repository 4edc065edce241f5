"""The promotion gate's own replays: when the registry stages a training run's version instead of
auto-promoting it (its model is gated), the gateway replays that version at each station the gate judges
by, so the auto-promotion waits for evidence, not for an engineer. The replay runner then promotes it if
the replay passes (domain/gated_promotion.py `promote_if_passing`).

The registry announces no finished run to the gateway, so a background loop asks it, for each gated
model, for succeeded runs that wait on the gate. One replay is started per (version, production version,
station): a failed or cancelled one is not retried by itself (an engineer may start another)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from linesight_core.background import run_every
from linesight_core.clients.registry import RegistryClient
from linesight_core.contracts.registry import ModelVersionOut
from linesight_core.contracts.training import TrainingRunOut
from linesight_core.errors import Problem
from linesight_gateway.db.models import PromotionGate, ReplayJob
from linesight_gateway.domain import audit, replays
from linesight_gateway.domain.gated_promotion import GATE_ACTOR, held_run
from linesight_gateway.domain.promotion_gate import GUARDED_ALIAS, gates_of, judged_stations

log = logging.getLogger(__name__)

STAGED_ALIAS = "staging"


@dataclass(frozen=True)
class HeldReplayConfig:
    last_n: int  # verified inspections replayed at each station (at least the gate's minimum there)
    max_inspections: int  # the most any replay takes (LINESIGHT_REPLAY_MAX_INSPECTIONS)


def gated_models(session: Session) -> list[str]:
    return list(
        session.scalars(select(PromotionGate.model_name).distinct().order_by(PromotionGate.model_name))
    )


def _replayed_already(
    session: Session, station_id: uuid.UUID, version: ModelVersionOut, production: int
) -> bool:
    found = session.scalars(
        select(ReplayJob.id)
        .where(
            ReplayJob.station_id == station_id,
            ReplayJob.model_name == version.model_name,
            ReplayJob.model_version == version.version,
            ReplayJob.baseline_name == version.model_name,
            ReplayJob.baseline_version == production,
        )
        .limit(1)
    ).first()
    return found is not None


def _queue(
    session_factory: sessionmaker[Session],
    run: TrainingRunOut,
    version: ModelVersionOut,
    baseline: ModelVersionOut,
    config: HeldReplayConfig,
) -> list[uuid.UUID]:
    """A replay job of the held version at each judging station that has none against this production."""
    started = []
    with session_factory() as session:
        for station, minimum in judged_stations(
            session, version.model_name, gates_of(session, version.model_name)
        ):
            if _replayed_already(session, station.id, version, baseline.version):
                continue
            try:
                replays.check_version(station, version)
            except Problem as exc:  # the gate will refuse it: the replay would say the same
                log.info("held version not replayable", extra={"station": station.name, "why": exc.detail})
                continue
            last_n = max(config.last_n, minimum)
            ids = replays.select_verified(
                session, station.id, last_n=last_n, since=None, until=None, limit=config.max_inspections
            )
            if not ids:
                continue  # no verified history yet: the gate refuses until there is, and then this starts one
            selection = {"last_n": last_n, "limit": config.max_inspections, "training_run": str(run.id)}
            job = replays.new_job(session, station, version, baseline, ids, selection, GATE_ACTOR)
            audit.record(
                session,
                None,
                "replay.create",
                "replay",
                str(job.id),
                {
                    "station": station.name,
                    "model": job.model_name,
                    "version": job.model_version,
                    "total": job.total,
                    "training_run": str(run.id),
                    "started_by": GATE_ACTOR,
                },
            )
            session.commit()
            started.append(job.id)
    return started


async def start_held_replays(
    session_factory: sessionmaker[Session], registry: RegistryClient, config: HeldReplayConfig
) -> list[uuid.UUID]:
    """Queue the replays the gate waits for; returns the jobs started this round."""
    started: list[uuid.UUID] = []
    with session_factory() as session:
        names = gated_models(session)
    for name in names:
        run = await held_run(registry, name)
        if run is None:
            continue
        model = await registry.get_model(name)
        staged, production = model.aliases.get(STAGED_ALIAS), model.aliases.get(GUARDED_ALIAS)
        if staged != run.model_version or production is None or production == staged:
            continue  # a later version was staged since, or the run's version serves already
        version = await registry.resolve(name, version=staged)
        baseline = await registry.resolve(name, version=production)
        jobs = await run_in_threadpool(_queue, session_factory, run, version, baseline, config)
        if jobs:
            log.info(
                "replays started for a version held by the promotion gate",
                extra={"model": name, "version": staged, "training_run": str(run.id), "jobs": len(jobs)},
            )
        started += jobs
    return started


async def run_held_replays(
    session_factory: sessionmaker[Session],
    registry: RegistryClient,
    config: HeldReplayConfig,
    *,
    interval: float,
) -> None:
    async def one_round() -> None:
        await start_held_replays(session_factory, registry, config)

    await run_every("held_replays", interval, one_round, failed="held replays round failed", logger=log)
