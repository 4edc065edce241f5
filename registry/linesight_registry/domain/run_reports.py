"""The training worker's calls on a run, as use cases: take it (start), report an epoch, send a heartbeat,
finish it. The finish rules are here in one place: the state and attempt that may finish a run (409) and
the version a succeeded run names, which must be its model's and registered by the run itself (422).
Each function locks the run, commits and returns what the route renders."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from linesight_core.contracts.registry import ModelPromoted
from linesight_core.contracts.training import (
    FINISHED_STATUSES,
    EpochProgress,
    RunControl,
    RunFinish,
    RunStart,
)
from linesight_core.errors import Conflict, Problem
from linesight_registry.db.models import TrainingRun
from linesight_registry.domain import catalog, training


def start_run(
    session: Session,
    run_id: uuid.UUID,
    body: RunStart,
    *,
    now: datetime,
    heartbeat_timeout: float,
    max_attempts: int,
) -> TrainingRun:
    """Let the worker take the run (training.start). A refusal is committed first (a run that ran out of
    attempts stays failed), then answered 409: the worker drops the task."""
    run = training.get_run(session, run_id, lock=True)
    refusal = training.start(
        run,
        body.worker,
        body.task_id,
        now=now,
        heartbeat_timeout=heartbeat_timeout,
        max_attempts=max_attempts,
    )
    session.commit()
    if refusal is not None:
        raise Conflict(refusal)
    return run


def record_progress(session: Session, run_id: uuid.UUID, body: EpochProgress, *, now: datetime) -> RunControl:
    run = training.get_run(session, run_id, lock=True)
    answer = training.record_epoch(session, run, body, now=now)
    session.commit()
    return answer


def heartbeat(session: Session, run_id: uuid.UUID, attempt: int | None, *, now: datetime) -> RunControl:
    run = training.get_run(session, run_id, lock=True)
    answer = training.heartbeat(run, attempt, now=now)
    session.commit()
    return answer


def finish_run(
    session: Session,
    run_id: uuid.UUID,
    body: RunFinish,
    *,
    now: datetime,
    publish: Callable[[ModelPromoted], None],
) -> TrainingRun:
    """The worker's report of how a run ended. A repeated finish is answered again; otherwise the finish
    rules apply (check_finish), and a succeeded run's staging decision is made in the same transaction."""
    run = training.get_run(session, run_id, lock=True)
    if is_repeated_finish(run, body):
        return run
    check_finish(session, run, body)
    _apply_finish(run, body, now=now)
    if body.status == "succeeded":
        # In the same transaction as the finish: nobody sees a succeeded run whose decision is not made.
        training.apply_decision(session, run, publish=publish)
    session.commit()
    return run


def is_repeated_finish(run: TrainingRun, body: RunFinish) -> bool:
    """The worker sent the same finish twice (it retried an answer that got lost): answer it again."""
    return (
        run.status == body.status
        and run.model_version == body.model_version
        and run.status in FINISHED_STATUSES
    )


def check_finish(session: Session, run: TrainingRun, body: RunFinish) -> None:
    """Whether the worker may finish the run so: only a started, unfinished run, by its current attempt
    (Conflict, 409); a succeeded run must name a version of its model that it registered itself (422)."""
    if run.status == "queued":
        raise Conflict(f"Training run {run.id} was never started; call /start first.")
    if run.status in FINISHED_STATUSES:
        raise Conflict(
            f"Training run {run.id} is {run.status} already" + (f": {run.error}" if run.error else ".")
        )
    if body.attempt is not None and body.attempt != run.attempt:
        raise Conflict(
            f"Attempt {run.attempt} took training run {run.id} over; attempt {body.attempt} may not finish it."
        )
    if body.status == "succeeded":
        _check_version_owner(session, run, body)


def _check_version_owner(session: Session, run: TrainingRun, body: RunFinish) -> None:
    assert body.model_version is not None  # RunFinish requires it for a succeeded run
    model = catalog.get_model(session, run.model_name)
    try:
        version = catalog.get_version(session, model, body.model_version)
    except Problem:
        raise Problem(
            422, f"Model {run.model_name!r} has no version {body.model_version}; upload it before finishing."
        ) from None
    if version.training_run_id not in (None, run.id):
        raise Problem(
            422, f"Version {body.model_version} was registered by training run {version.training_run_id}."
        )


def _apply_finish(run: TrainingRun, body: RunFinish, *, now: datetime) -> None:
    run.error = body.error
    run.evaluation = body.evaluation
    run.metrics = body.metrics
    run.artifacts = body.artifacts
    run.model_version = body.model_version
    run.finished_at = now
    training.transition(run, body.status)
