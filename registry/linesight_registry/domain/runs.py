"""The registry's training-run use cases on the engineers' side: a new training run from a request, a new
conversion run from an uploaded checkpoint (each checked, recorded and queued), a cancel, and reading a
run's artifact. Each takes its dependencies as arguments; a route reads the request, calls one of these
and renders the answer. The worker's calls (start, progress, heartbeat, finish) are in run_reports.py."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from linesight_core.contracts.training import CONVERT_TASK, TRAIN_TASK, TrainingRunCreate
from linesight_core.errors import Problem, Unavailable
from linesight_core.storage import ObjectNotFound, ObjectStore
from linesight_registry.db.models import Model, TrainingRun
from linesight_registry.domain import catalog, training, training_inputs
from linesight_registry.domain.queue import QueueUnavailable, TrainingQueue


def new_train_run(session: Session, queue: TrainingQueue, body: TrainingRunCreate, actor: str) -> TrainingRun:
    """Record and queue a training run for `body` (queue_run): the dataset version exists and may be
    trained on, the architecture fits its task, the base weights (if any) are of the same task and the
    target model, when it exists, is of that task too."""
    return queue_run(session, queue, _train_run(session, body, actor), TRAIN_TASK)


def _train_run(session: Session, body: TrainingRunCreate, actor: str) -> TrainingRun:
    dataset = training_inputs.dataset_version(session, body.dataset, body.dataset_version, for_training=True)
    if body.architecture is not None:
        training_inputs.check_architecture(body.architecture, dataset.task)
    weights = None
    if body.base_model is not None and body.base_version is not None:
        weights = training_inputs.base_weights(session, body.base_model, body.base_version, dataset.task)
    training_inputs.target_model(session, body.model_name, dataset.task)
    return TrainingRun(
        id=uuid.uuid4(),
        kind="train",
        task=dataset.task,
        model_name=body.model_name,
        dataset=body.dataset,
        dataset_version=body.dataset_version,
        dataset_version_id=dataset.id,
        architecture=body.architecture,
        base_model=body.base_model,
        base_version=body.base_version,
        base_weights_key=weights,
        epochs=body.epochs,
        imgsz=body.imgsz,
        batch=body.batch,
        seed=body.seed,
        patience=body.patience,
        time_limit_seconds=body.time_limit_seconds,
        selection_metric=body.selection_metric or training.default_selection_metric(dataset.task),
        auto_promote=body.auto_promote,
        notes=body.notes,
        task_id=str(uuid.uuid4()),
        created_by=actor,
    )


@dataclass(frozen=True)
class ConvertTarget:
    """Where a converted checkpoint goes: the model, and the dataset version it is evaluated on."""

    model: Model
    dataset: str | None
    dataset_version: int | None
    dataset_ref: training_inputs.DatasetVersionRef | None


def convert_target(
    session: Session, name: str, dataset: str | None, dataset_version: int | None
) -> ConvertTarget:
    """Checked before the upload is read: the model exists, and the dataset version, when given (both or
    neither), exists and is of the model's task."""
    model = catalog.get_model(session, name)
    if (dataset is None) != (dataset_version is None):
        raise Problem(422, "Give dataset and dataset_version together, or neither.")
    if dataset is None or dataset_version is None:
        return ConvertTarget(model, None, None, None)
    ref = training_inputs.dataset_version(session, dataset, dataset_version, for_training=False)
    if ref.task != model.task:
        raise Problem(422, f"Model {name!r} is a {model.task} model; dataset {dataset!r} is for {ref.task}.")
    return ConvertTarget(model, dataset, dataset_version, ref)


@dataclass(frozen=True)
class ConvertRequest:
    """What the uploader asked for, besides the file."""

    dataset: str | None
    dataset_version: int | None
    imgsz: int
    selection_metric: str | None
    auto_promote: bool
    time_limit_seconds: int
    created_by: str
    notes: str


def new_convert_run(
    session: Session,
    store: ObjectStore,
    queue: TrainingQueue,
    *,
    bucket: str,
    model_name: str,
    request: ConvertRequest,
    receive: Callable[[], str],
) -> TrainingRun:
    """Record and queue a conversion run of an uploaded checkpoint into a version of `model_name`. The
    target is checked before the upload is read; `receive` then spools the upload to a file and returns
    its path (the file is removed here). The file must look like a `torch.save` archive (it is never
    unpickled here); it is stored as it came, content-addressed under `uploads/` in `bucket`."""
    target = convert_target(session, model_name, request.dataset, request.dataset_version)
    path = receive()
    try:
        run = _convert_run(store, bucket, target, path, request)
    finally:
        os.unlink(path)
    return queue_run(session, queue, run, CONVERT_TASK)


def _convert_run(
    store: ObjectStore, bucket: str, target: ConvertTarget, checkpoint_path: str, options: ConvertRequest
) -> TrainingRun:
    training_inputs.check_torch_checkpoint(checkpoint_path)
    with open(checkpoint_path, "rb") as fh:
        stored = store.put_content_addressed(
            bucket, "uploads", fh, content_type="application/octet-stream", suffix=".pt"
        )
    model = target.model
    return TrainingRun(
        id=uuid.uuid4(),
        kind="convert",
        task=model.task,
        model_name=model.name,
        dataset=target.dataset,
        dataset_version=target.dataset_version,
        dataset_version_id=target.dataset_ref.id if target.dataset_ref else None,
        source_key=stored.key,
        source_sha256=stored.sha256,
        imgsz=options.imgsz,
        time_limit_seconds=options.time_limit_seconds,
        selection_metric=options.selection_metric or training.default_selection_metric(model.task),
        auto_promote=options.auto_promote,
        notes=options.notes,
        task_id=str(uuid.uuid4()),
        created_by=options.created_by,
    )


def queue_run(session: Session, queue: TrainingQueue, run: TrainingRun, task: str) -> TrainingRun:
    """Commit the run first (the worker asks for it as soon as it gets the task), then queue the task. A
    broker that does not take it leaves the run recorded as failed (Unavailable, 503)."""
    session.add(run)
    training.transition(run, "queued")
    session.commit()
    assert run.task_id is not None
    try:
        queue.send(task, run.id, run.task_id, run.time_limit_seconds)
    except QueueUnavailable as exc:
        run.error = f"the training queue did not take the task: {exc}"
        run.finished_at = datetime.now(UTC)
        training.transition(run, "failed")
        session.commit()
        raise Unavailable(
            f"The training queue cannot be reached; run {run.id} was recorded as failed. Try again later."
        ) from exc
    return run


def cancel_run(session: Session, queue: TrainingQueue, run_id: uuid.UUID, *, now: datetime) -> TrainingRun:
    """A queued run is cancelled at once and its task revoked; a running one is asked to stop (409 for a
    finished run)."""
    run = training.get_run(session, run_id, lock=True)
    revoke = training.cancel(run, now=now)
    session.commit()
    if revoke and run.task_id:
        queue.revoke(run.task_id)
    return run


@dataclass(frozen=True)
class RunArtifact:
    name: str
    media_type: str
    chunks: Iterator[bytes]


def open_artifact(
    session: Session, store: ObjectStore, bucket: str, run_id: uuid.UUID, artifact: str
) -> RunArtifact:
    """One artifact of a run (a plot or the weights), its first chunk already read so that a file missing
    from the store is a 404 here rather than a broken stream."""
    run = training.get_run(session, run_id)
    key = (run.artifacts or {}).get(artifact)
    if key is None:
        names = ", ".join(sorted(run.artifacts or {})) or "none"
        raise Problem(404, f"Run {run_id} has no artifact {artifact!r}; it has: {names}.")
    try:
        chunks = store.iter_object(bucket, key)
        first = next(chunks, b"")
    except ObjectNotFound:
        raise Problem(
            404, f"The artifact {artifact!r} of run {run_id} is missing from object storage."
        ) from None

    def body() -> Iterator[bytes]:
        yield first
        yield from chunks

    media = "image/png" if artifact.endswith(".png") else "application/octet-stream"
    return RunArtifact(artifact, media, body())
