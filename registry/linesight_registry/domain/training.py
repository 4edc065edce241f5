"""The life of a training run: queued → running → succeeded | failed | cancelled, who may move it, when
a worker counts as gone, and which new versions get the staging alias (champion/challenger)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from linesight_core.contracts.registry import ModelPromoted
from linesight_core.contracts.training import (
    DEFAULT_SELECTION_METRIC,
    FINISHED_STATUSES,
    EpochProgress,
    EpochRecord,
    RunControl,
    TrainingRunOut,
)
from linesight_core.errors import NotFound, Problem
from linesight_core.pagination import paginate
from linesight_registry.db.models import TrainingEpoch, TrainingRun
from linesight_registry.domain import catalog
from linesight_registry.domain.training_metrics import DECISIONS, RUN_DURATION, RUNS

# Metrics where a smaller value is the better model; every other metric is "higher is better".
LOWER_IS_BETTER = frozenset({"ece", "expected_calibration_error", "fitness_loss"})


def default_selection_metric(task: str) -> str:
    return DEFAULT_SELECTION_METRIC[task]


def higher_is_better(metric: str) -> bool:
    name = metric.lower()
    return not (name in LOWER_IS_BETTER or name.endswith("loss"))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def transition(run: TrainingRun, status: str) -> None:
    run.status = status
    RUNS.labels(run.kind, status).inc()
    if status in FINISHED_STATUSES and run.started_at is not None and run.finished_at is not None:
        RUN_DURATION.labels(run.kind, status).observe((run.finished_at - run.started_at).total_seconds())


# --- champion / challenger ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    stage: bool
    promote: bool
    outcome: str  # promoted | staged | gated | kept | not_compared: the metric label
    reason: str


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _metric_of(side: Any, metric: str) -> float | None:
    if not isinstance(side, dict) or not isinstance(side.get("metrics"), dict):
        return None
    return _number(side["metrics"].get(metric))


def decide(
    evaluation: dict[str, Any], metric: str, *, production_version: int | None, auto_promote: bool
) -> Decision:
    """Whether the new version (the challenger) gets staging, and production too when the run asked
    for auto-promotion. Strictly better is required; a tie keeps the champion."""
    split = evaluation.get("split") or "the evaluation split"
    challenger = _metric_of(evaluation.get("challenger"), metric)
    if challenger is None:
        return Decision(
            False, False, "not_compared", f"not staged: the evaluation has no {metric!r} for the new version"
        )
    promote_note = "; production moved too (auto-promotion)" if auto_promote else ""
    if production_version is None:
        return Decision(
            True,
            auto_promote,
            "promoted" if auto_promote else "staged",
            f"no production version to beat; {metric} {challenger:.4g} on {split}{promote_note}",
        )
    champion_side = evaluation.get("champion")
    champion = _metric_of(champion_side, metric)
    if champion is None:
        return Decision(
            False,
            False,
            "not_compared",
            f"not staged: production v{production_version} was not evaluated on {metric!r} on the same "
            "split; compare the versions by hand",
        )
    evaluated = champion_side.get("version") if isinstance(champion_side, dict) else None
    if evaluated is not None and evaluated != production_version:
        return Decision(
            False,
            False,
            "not_compared",
            f"not staged: the new version was compared with v{evaluated}, but production is now "
            f"v{production_version}; compare the versions by hand",
        )
    higher = higher_is_better(metric)
    better = challenger > champion if higher else challenger < champion
    sign = (">" if higher else "<") if better else "is not better than"
    comparison = (
        f"{metric} {challenger:.4g} {sign} {champion:.4g} of production v{production_version} on {split}"
    )
    if not better:
        return Decision(False, False, "kept", f"not staged: {comparison}")
    return Decision(
        True, auto_promote, "promoted" if auto_promote else "staged", f"{comparison}{promote_note}"
    )


# --- the worker's calls ------------------------------------------------------------------------------


def heartbeat_age(run: TrainingRun, now: datetime) -> timedelta | None:
    last = run.heartbeat_at or run.attempt_started_at
    return None if last is None else now - last


def start(
    run: TrainingRun,
    worker: str,
    task_id: str,
    *,
    now: datetime,
    heartbeat_timeout: float,
    max_attempts: int,
) -> str | None:
    """Let a worker take the run. Returns why not (409), after recording anything the refusal decided.

    A running run may be taken again when its worker went quiet (the task was redelivered after a
    crash) or when the same worker asks again (its pool process died, or it retried a lost answer)."""
    if run.status in FINISHED_STATUSES:
        detail = f": {run.error}" if run.error else ""
        return f"Training run {run.id} is {run.status}{detail}; the task is dropped."
    if run.task_id and task_id != run.task_id:
        return f"Training run {run.id} belongs to task {run.task_id}, not {task_id}."
    if run.status == "running":
        age = heartbeat_age(run, now)
        stale = age is None or age.total_seconds() > heartbeat_timeout
        if not stale and worker != run.worker:
            return (
                f"Training run {run.id} is running on {run.worker} (last heartbeat "
                f"{age.total_seconds():.0f} s ago); the duplicate task is dropped."
            )
        if run.attempt >= max_attempts:
            run.error = (
                f"gave up after {run.attempt} attempts: the worker was lost each time (last: {run.worker})"
            )
            run.finished_at = now
            transition(run, "failed")
            return f"Training run {run.id} failed: {run.error}."
    else:
        run.started_at = now
        transition(run, "running")
    run.attempt += 1
    run.attempt_started_at = now
    run.heartbeat_at = now
    run.worker = worker
    run.task_id = task_id
    return None


def control(run: TrainingRun, attempt: int | None) -> RunControl:
    if run.status != "running":
        reason = f"the run is {run.status}" + (f": {run.error}" if run.error else "")
        return RunControl(status=run.status, cancel_requested=run.cancel_requested, stop=True, reason=reason)  # type: ignore[arg-type]
    if attempt is not None and attempt != run.attempt:
        return RunControl(
            status="running",
            cancel_requested=run.cancel_requested,
            stop=True,
            reason=f"attempt {run.attempt} took the run over from attempt {attempt}",
        )
    reason = "cancel requested" if run.cancel_requested else ""
    return RunControl(
        status="running", cancel_requested=run.cancel_requested, stop=run.cancel_requested, reason=reason
    )


def _is_current(run: TrainingRun, attempt: int | None) -> bool:
    return run.status == "running" and (attempt is None or attempt == run.attempt)


def heartbeat(run: TrainingRun, attempt: int | None, *, now: datetime) -> RunControl:
    if _is_current(run, attempt):
        run.heartbeat_at = now
    return control(run, attempt)


def record_epoch(session: Session, run: TrainingRun, report: EpochProgress, *, now: datetime) -> RunControl:
    """Keep one epoch of the current attempt (a repeated report replaces it) and answer whether to stop.
    Reports of a run that is no longer running, or of a superseded attempt, are not kept."""
    if not _is_current(run, report.attempt):
        return control(run, report.attempt)
    values = {
        "epochs": report.epochs,
        "losses": report.losses,
        "metrics": report.metrics,
        "elapsed_s": report.elapsed_s,
        "eta_s": report.eta_s,
        "at": now,
    }
    session.execute(
        insert(TrainingEpoch)
        .values(run_id=run.id, attempt=run.attempt, epoch=report.epoch, **values)
        .on_conflict_do_update(index_elements=["run_id", "attempt", "epoch"], set_=values)
    )
    record = EpochRecord(**report.model_dump(exclude={"attempt"}), attempt=run.attempt, at=now)
    run.progress = record.model_dump(mode="json")
    run.epochs_done = report.epoch
    run.heartbeat_at = now
    return control(run, report.attempt)


def cancel(run: TrainingRun, *, now: datetime) -> bool:
    """Cancel at once when queued (returns True: revoke the task), else ask the worker to stop."""
    if run.status in FINISHED_STATUSES:
        raise Problem(409, f"Training run {run.id} is {run.status} already; there is nothing to cancel.")
    run.cancel_requested = True
    if run.status == "queued":
        run.finished_at = now
        run.error = "cancelled before a worker started it"
        transition(run, "cancelled")
        return True
    return False


def sweep_reason(
    run: TrainingRun, *, now: datetime, heartbeat_timeout: float, grace_seconds: int
) -> str | None:
    """Why a running run must be failed now: its time is up, or its worker went silent."""
    if run.status != "running":
        return None
    if run.attempt_started_at is not None:
        deadline = run.attempt_started_at + timedelta(seconds=run.time_limit_seconds + grace_seconds)
        if now > deadline:
            return (
                f"time limit exceeded: the run was still running {run.time_limit_seconds} s after it started"
            )
    age = heartbeat_age(run, now)
    if age is not None and age.total_seconds() > heartbeat_timeout:
        last = run.heartbeat_at or run.attempt_started_at
        assert last is not None
        return f"the worker stopped sending heartbeats at {iso(last)} (worker {run.worker})"
    return None


# --- queries -------------------------------------------------------------------------------------------


def get_run(session: Session, run_id: uuid.UUID, *, lock: bool = False) -> TrainingRun:
    stmt = select(TrainingRun).where(TrainingRun.id == run_id)
    if lock:
        stmt = stmt.with_for_update()
    run = session.scalar(stmt)
    if run is None:
        raise NotFound("training run", run_id, by=None)
    return run


def list_runs(
    session: Session,
    *,
    status: str | None,
    kind: str | None,
    model: str | None,
    dataset: str | None,
    limit: int,
    offset: int,
) -> tuple[list[TrainingRun], int]:
    stmt = select(TrainingRun)
    for column, value in (
        (TrainingRun.status, status),
        (TrainingRun.kind, kind),
        (TrainingRun.model_name, model),
        (TrainingRun.dataset, dataset),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return paginate(
        session, stmt, TrainingRun.created_at.desc(), TrainingRun.id.desc(), limit=limit, offset=offset
    )


def list_epochs(session: Session, run: TrainingRun, *, attempt: int | None, after: int) -> list[EpochRecord]:
    rows = session.scalars(
        select(TrainingEpoch)
        .where(
            TrainingEpoch.run_id == run.id,
            TrainingEpoch.attempt == (attempt or run.attempt),
            TrainingEpoch.epoch > after,
        )
        .order_by(TrainingEpoch.epoch)
    )
    return [
        EpochRecord(
            epoch=r.epoch,
            epochs=r.epochs,
            losses=r.losses,
            metrics=r.metrics,
            elapsed_s=r.elapsed_s,
            eta_s=r.eta_s,
            attempt=r.attempt,
            at=r.at,
        )
        for r in rows
    ]


def run_out(run: TrainingRun) -> TrainingRunOut:
    return TrainingRunOut.model_validate(run, from_attributes=True)


def apply_decision(
    session: Session, run: TrainingRun, *, publish: Callable[[ModelPromoted], None]
) -> Decision:
    """After a successful run: stage (and maybe promote) its version when it beats production. The alias
    moves go through the catalog, so they are in the alias history and announced like a person's."""
    model = catalog.get_model(session, run.model_name)
    try:
        _, champion = catalog.resolve_alias(session, model, "production")
        production: int | None = champion.version
    except Problem:
        production = None
    decision = decide(
        run.evaluation, run.selection_metric, production_version=production, auto_promote=run.auto_promote
    )
    if decision.promote and model.promotion_gated and production is not None:
        # The gateway's promotion gate guards production: the version is staged and waits for a replay
        # of verified history that passes; the gateway then promotes it (auto_promote stays recorded).
        decision = Decision(
            True,
            False,
            "gated",
            decision.reason.replace("; production moved too (auto-promotion)", "")
            + "; production not moved: the model's promotion gate needs a passing replay of verified "
            "history first (the gateway promotes the staged version when its replay passes)",
        )
    run.decision = decision.reason
    moves = (["staging"] if decision.stage else []) + (["production"] if decision.promote else [])
    # The flags are set before the moves: the first move's commit also commits the run's end, so a reader
    # never sees the run succeeded with its staging not yet recorded.
    run.staged, run.promoted = decision.stage, decision.promote
    for alias in moves:
        assert run.model_version is not None
        try:
            catalog.move_alias(
                session,
                model,
                alias,
                run.model_version,
                moved_by=f"training:{run.id}",
                reason=f"training run {run.id}: {decision.reason}",
                publish=publish,
            )
        except Problem as exc:  # the version was archived meanwhile: the run stays succeeded
            run.decision = f"{decision.reason}; {alias} not moved: {exc.detail}"
            run.promoted = False
            if alias == "staging":
                run.staged = False
            break
    DECISIONS.labels(decision.outcome).inc()
    return decision
