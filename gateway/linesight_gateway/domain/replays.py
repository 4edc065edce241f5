"""Replay jobs: which verified inspections a replay takes, the job row, and claiming a job to run.

A job is a row of `replay_jobs`; the runner (domain/replay_runner.py) in any gateway replica claims a
queued one, or a running one whose runner stopped sending heartbeats (a gateway that was restarted or
died), and resumes it from the answers it already kept."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from linesight_core.contracts.registry import ModelVersionOut
from linesight_core.errors import Conflict, Problem
from linesight_gateway.db.models import Feedback, Inspection, ReplayJob, Station
from linesight_gateway.domain.access import Principal
from linesight_gateway.domain.inspections import rules_of
from linesight_gateway.domain.replay_scoring import rules_to_json

OPEN = ("queued", "running")
FINISHED = ("completed", "failed", "cancelled")


def check_version(station: Station, version: ModelVersionOut) -> None:
    """A version can be replayed at a station only if it does the station's task and knows its classes."""
    if version.task != station.mode:
        doing = {"detect": "detects items", "segment": "measures defects"}.get(
            station.mode, "classifies photos"
        )
        raise Problem(
            422,
            f"{version.model_name} version {version.version} is a {version.task} model; station "
            f"{station.name} {doing} (mode {station.mode}): replay a {station.mode} version there.",
        )
    names = set(version.class_names.values())
    needed = {
        "detect": {e["label"] for e in station.expected_items},
        "segment": {r["label"] for r in station.defect_rules or []},
    }.get(station.mode, set(station.ok_classes))
    unknown = sorted(needed - names)
    if unknown:
        raise Problem(
            422,
            f"{version.model_name} version {version.version} has no class {', '.join(unknown)}, which "
            f"station {station.name} judges by (its classes: {', '.join(sorted(names))}).",
        )


def select_verified(
    session: Session,
    station_id: uuid.UUID,
    *,
    last_n: int | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
) -> list[uuid.UUID]:
    """The station's completed inspections with operator feedback: the last N, or those in the window
    (at most `limit`, newest first)."""
    stmt = (
        select(Inspection.id)
        .join(Feedback, Feedback.inspection_id == Inspection.id)
        .where(
            Inspection.station_id == station_id,
            Inspection.status == "completed",
            Inspection.model_version.is_not(None),
        )
        .order_by(Inspection.created_at.desc(), Inspection.id)
    )
    if since is not None:
        stmt = stmt.where(Inspection.created_at >= since)
    if until is not None:
        stmt = stmt.where(Inspection.created_at < until)
    return list(session.scalars(stmt.limit(min(last_n or limit, limit))))


def new_job(
    session: Session,
    station: Station,
    version: ModelVersionOut,
    baseline: ModelVersionOut,
    inspection_ids: list[uuid.UUID],
    selection: dict[str, Any],
    by: Principal | str,
) -> ReplayJob:
    """A queued replay job; `by` is who asked (a person's or key's principal, or a system actor's name)."""
    job = ReplayJob(
        station_id=station.id,
        model_name=version.model_name,
        model_version=version.version,
        baseline_name=baseline.model_name,
        baseline_alias=station.model_alias,
        baseline_version=baseline.version,
        task=station.mode,
        status="queued",
        selection=selection,
        rules=rules_to_json(rules_of(station)),
        # oldest first: a report reads in the order the line saw them
        inspection_ids=[str(i) for i in reversed(inspection_ids)],
        total=len(inspection_ids),
        done=0,
        items=[],
        cancel_requested=False,
        attempts=0,
        created_by=None if isinstance(by, str) else by.key_id,
        created_by_name=by if isinstance(by, str) else by.name,
    )
    session.add(job)
    session.flush()
    return job


def request_cancel(session: Session, job: ReplayJob) -> None:
    """A queued job is cancelled at once; a running one stops at its runner's next step."""
    if job.status in FINISHED:
        raise Conflict(f"The replay is already {job.status}; only a queued or running one can be cancelled.")
    job.cancel_requested = True
    if job.status == "queued":
        job.status = "cancelled"
        job.finished_at = datetime.now(UTC)


def claim(session_factory: sessionmaker[Session], stale_seconds: float) -> uuid.UUID | None:
    """Take the oldest queued job, or a running one whose runner has been silent for `stale_seconds`."""
    with session_factory() as session:
        row = session.execute(
            text(
                """
                UPDATE gateway.replay_jobs
                SET status = 'running', heartbeat_at = now(), attempts = attempts + 1,
                    started_at = coalesce(started_at, now())
                WHERE id = (
                    SELECT id FROM gateway.replay_jobs
                    WHERE status = 'queued'
                       OR (status = 'running' AND heartbeat_at < now() - make_interval(secs => :stale))
                    ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED
                ) RETURNING id
                """
            ),
            {"stale": stale_seconds},
        ).first()
        session.commit()
    return row[0] if row else None


def finish(session: Session, job_id: uuid.UUID, token: int, status: str, **values: Any) -> bool:
    """End the job, if the runner holding claim `token` (its `attempts` then) still has it."""
    now = datetime.now(UTC)
    done = session.execute(
        update(ReplayJob)
        .where(ReplayJob.id == job_id, ReplayJob.attempts == token, ReplayJob.status == "running")
        .values(status=status, finished_at=now, heartbeat_at=now, **values)
        .returning(ReplayJob.id)
    ).first()
    return done is not None
