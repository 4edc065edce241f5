"""The registry's background sweeper: fails running runs whose worker went silent or whose time ran out,
so no run stays `running` forever, and counts unfinished runs for the active-runs gauge. Safe in every
replica: rows are claimed with SKIP LOCKED."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from linesight_core.background import run_every
from linesight_core.db import session_scope
from linesight_registry.db.models import TrainingRun
from linesight_registry.domain import training
from linesight_registry.domain.training_metrics import ACTIVE, SWEPT

log = logging.getLogger(__name__)

BATCH = 100


def sweep_once(
    session_factory: sessionmaker[Session],
    *,
    heartbeat_timeout: float,
    grace_seconds: int,
    now: datetime | None = None,
) -> list[TrainingRun]:
    """One round; returns the runs it failed. A run fails when no heartbeat came for `heartbeat_timeout`
    seconds, or when it still runs `grace_seconds` past its own time limit."""
    now = now or datetime.now(UTC)
    failed: list[TrainingRun] = []
    with session_scope(session_factory) as session:
        runs = session.scalars(
            select(TrainingRun)
            .where(TrainingRun.status == "running")
            .order_by(TrainingRun.heartbeat_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        for run in runs:
            reason = training.sweep_reason(
                run,
                now=now,
                heartbeat_timeout=heartbeat_timeout,
                grace_seconds=grace_seconds,
            )
            if reason is None:
                continue
            run.error = reason
            run.finished_at = now
            training.transition(run, "failed")
            SWEPT.labels("time_limit" if reason.startswith("time limit") else "heartbeat").inc()
            log.warning(
                "training run failed by the sweeper",
                extra={"run_id": str(run.id), "worker": run.worker, "reason": reason},
            )
            failed.append(run)
        counts = dict(
            session.execute(
                select(TrainingRun.status, func.count())
                .where(TrainingRun.status.in_(("queued", "running")))
                .group_by(TrainingRun.status)
            ).all()
        )
    for status in ("queued", "running"):
        ACTIVE.labels(status).set(counts.get(status, 0))
    return failed


async def run_sweeper(
    session_factory: sessionmaker[Session], *, interval: float, heartbeat_timeout: float, grace_seconds: int
) -> None:
    """A sweep every `interval` seconds until cancelled (run_every: a failed round is logged and counted)."""

    async def one_round() -> None:
        await run_in_threadpool(
            partial(
                sweep_once, session_factory, heartbeat_timeout=heartbeat_timeout, grace_seconds=grace_seconds
            )
        )

    await run_every(
        "training_sweeper",
        interval,
        one_round,
        failed="training sweep failed",
        logger=log,
    )
