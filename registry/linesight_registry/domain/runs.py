"""The registry's training-run use cases: a new training run from a request, a new conversion run from an
uploaded checkpoint, and the worker's finish with the version-ownership rules. Each takes its
dependencies as arguments; a route reads the request, calls one of these (then `queue.queue_run`) and
renders the answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from linesight_core.contracts.registry import ModelPromoted
from linesight_core.contracts.training import RunFinish, TrainingRunCreate
from linesight_core.errors import Problem
from linesight_core.storage import ObjectStore
from linesight_registry.db.models import Model, TrainingRun
from linesight_registry.domain import catalog, training, training_inputs


def new_train_run(session: Session, body: TrainingRunCreate, actor: str) -> TrainingRun:
    """A training run for `body`, not yet added to the session: the dataset version exists and may be
    trained on, the architecture fits its task, the base weights (if any) are of the same task and the
    target model, when it exists, is of that task too."""
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
class ConvertOptions:
    imgsz: int
    selection_metric: str | None
    auto_promote: bool
    time_limit_seconds: int
    created_by: str
    notes: str


def new_convert_run(
    store: ObjectStore, bucket: str, target: ConvertTarget, checkpoint_path: str, options: ConvertOptions
) -> TrainingRun:
    """A conversion run for the checkpoint file at `checkpoint_path`, not yet added to the session. The
    file must look like a `torch.save` archive (it is never unpickled here); it is stored as it came,
    content-addressed under `uploads/` in `bucket`."""
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


def finish_run(
    session: Session,
    run_id: uuid.UUID,
    body: RunFinish,
    *,
    now: datetime,
    publish: Callable[[ModelPromoted], None],
) -> TrainingRun:
    """The worker's report of how a run ended. A repeated finish is answered again; a run that may not be
    finished is refused (409); a succeeded run must name a version of its model that it registered itself
    (422), and its staging decision is made in the same transaction. Commits."""
    run = training.get_run(session, run_id, lock=True)
    if training.is_repeated_finish(run, body):
        return run
    refusal = training.check_finish(run, body)
    if refusal is not None:
        raise Problem(409, refusal)
    if body.status == "succeeded":
        _check_version_owner(session, run, body)
    training.finish(run, body, now=now)
    if body.status == "succeeded":
        # In the same transaction as the finish: nobody sees a succeeded run whose decision is not made.
        training.apply_decision(session, run, publish=publish)
    session.commit()
    return run


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
