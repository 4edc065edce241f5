"""Training runs: engineers create, list, watch and cancel them; the training worker starts them, reports
every epoch, keeps them alive with heartbeats and finishes them. A .pt upload becomes a conversion run
in model_checkpoints.py."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse

from linesight_core.contracts.common import Page
from linesight_core.contracts.registry import NAME_PATTERN
from linesight_core.contracts.training import (
    EpochProgress,
    EpochRecord,
    RunControl,
    RunFinish,
    RunHeartbeat,
    RunKind,
    RunStart,
    RunStatus,
    TrainingRunCreate,
    TrainingRunOut,
)
from linesight_registry.api.deps import ActorDep, PublisherDep, QueueDep, SessionDep, SettingsDep, StoreDep
from linesight_registry.domain import run_reports, runs, training

router = APIRouter(tags=["training runs"])
RUNS = "/v1/training-runs"
RUN = RUNS + "/{run_id}"
CONFLICT = {409: {"description": "The run is in a state that does not allow this"}}


def _now() -> datetime:
    return datetime.now(UTC)


@router.post(
    RUNS,
    response_model=TrainingRunOut,
    status_code=201,
    summary="Start a training run on a dataset version",
    responses={
        404: {"description": "Unknown dataset, version or base model"},
        503: {"description": "No queue"},
    },
)
def create_run(
    body: TrainingRunCreate, session: SessionDep, actor: ActorDep, queue: QueueDep
) -> TrainingRunOut:
    return training.run_out(runs.new_train_run(session, queue, body, actor))


@router.get(RUNS, response_model=Page[TrainingRunOut], summary="List training runs, newest first")
def list_runs(
    session: SessionDep,
    status: RunStatus | None = None,
    kind: RunKind | None = None,
    model: str | None = Query(None, pattern=NAME_PATTERN, description="Target model name"),
    dataset: str | None = Query(None, pattern=NAME_PATTERN),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Page[TrainingRunOut]:
    found, total = training.list_runs(
        session, status=status, kind=kind, model=model, dataset=dataset, limit=limit, offset=offset
    )
    return Page[TrainingRunOut](
        items=[training.run_out(r) for r in found], total=total, limit=limit, offset=offset
    )


@router.get(RUN, response_model=TrainingRunOut, summary="One run with its latest epoch")
def get_run(run_id: uuid.UUID, session: SessionDep) -> TrainingRunOut:
    return training.run_out(training.get_run(session, run_id))


@router.get(
    RUN + "/epochs",
    response_model=list[EpochRecord],
    summary="A run's epochs, oldest first (poll with `after` to watch it)",
)
def list_epochs(
    run_id: uuid.UUID,
    session: SessionDep,
    after: int = Query(0, ge=0, le=1000, description="Only epochs after this one"),
    attempt: int | None = Query(None, ge=1, le=1000, description="Default: the current attempt"),
) -> list[EpochRecord]:
    run = training.get_run(session, run_id)
    return training.list_epochs(session, run, attempt=attempt, after=after)


@router.post(
    RUN + "/cancel",
    response_model=TrainingRunOut,
    summary="Cancel a run",
    description="A queued run is revoked and cancelled at once; a running one stops at the end of its "
    "current epoch and then ends cancelled.",
    responses=CONFLICT,
)
def cancel_run(run_id: uuid.UUID, session: SessionDep, queue: QueueDep) -> TrainingRunOut:
    return training.run_out(runs.cancel_run(session, queue, run_id, now=_now()))


# --- the worker's calls ------------------------------------------------------------------------------


@router.post(
    RUN + "/start",
    response_model=TrainingRunOut,
    summary="Worker: take a queued run (or a running one whose worker went silent)",
    responses={409: {"description": "Finished, cancelled or running elsewhere: drop the task"}},
)
def start_run(
    run_id: uuid.UUID, body: RunStart, session: SessionDep, settings: SettingsDep
) -> TrainingRunOut:
    run = run_reports.start_run(
        session,
        run_id,
        body,
        now=_now(),
        heartbeat_timeout=settings.training_heartbeat_timeout_seconds,
        max_attempts=settings.training_max_attempts,
    )
    return training.run_out(run)


@router.post(RUN + "/progress", response_model=RunControl, summary="Worker: one finished epoch")
def report_progress(run_id: uuid.UUID, body: EpochProgress, session: SessionDep) -> RunControl:
    return run_reports.record_progress(session, run_id, body, now=_now())


@router.post(RUN + "/heartbeat", response_model=RunControl, summary="Worker: still alive")
def heartbeat(run_id: uuid.UUID, session: SessionDep, body: RunHeartbeat | None = None) -> RunControl:
    return run_reports.heartbeat(session, run_id, body.attempt if body else None, now=_now())


@router.post(
    RUN + "/finish",
    response_model=TrainingRunOut,
    summary="Worker: how the run ended",
    description="A succeeded run's version gets the staging alias when it beats production on the run's "
    "selection metric (or when there is no production version), and production too with auto_promote.",
    responses=CONFLICT,
)
def finish_run(
    run_id: uuid.UUID, body: RunFinish, session: SessionDep, publish: PublisherDep
) -> TrainingRunOut:
    return training.run_out(run_reports.finish_run(session, run_id, body, now=_now(), publish=publish))


@router.get(
    RUN + "/artifacts/{artifact}",
    summary="One artifact of a run: a plot (PNG) or the PyTorch weights",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file",
            "content": {"image/png": {}, "application/octet-stream": {}},
        },
        404: {"description": "No such run, or the run has no artifact of that name"},
    },
)
def get_artifact(
    run_id: uuid.UUID,
    artifact: Annotated[str, Path(max_length=100, examples=["confusion_matrix.png"])],
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
) -> StreamingResponse:
    found = runs.open_artifact(session, store, settings.bucket("models"), run_id, artifact)
    return StreamingResponse(
        found.chunks,
        media_type=found.media_type,
        headers={"Content-Disposition": f'inline; filename="{found.name}"'},
    )
