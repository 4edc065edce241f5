"""PyTorch checkpoint (.pt) uploads, next to the model routes: the registry stores the pickle untouched,
never opens it, and queues a conversion run; the version appears when the training worker converted it."""

from __future__ import annotations

import os
import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from linesight_core.contracts.registry import MAX_VERSION, NAME_PATTERN
from linesight_core.contracts.training import (
    CONVERT_TASK,
    CONVERT_TIME_LIMIT_SECONDS,
    MAX_TIME_LIMIT_SECONDS,
    METRIC_PATTERN,
    TrainingRunOut,
)
from linesight_core.errors import Problem
from linesight_registry.api.deps import ActorDep, QueueDep, SessionDep, SettingsDep, StoreDep
from linesight_registry.api.uploads import spool_upload
from linesight_registry.db.models import TrainingRun
from linesight_registry.domain import catalog, training, training_inputs
from linesight_registry.domain.queue import queue_run

# The answer is a training run, so the route stays under that tag in the API document.
router = APIRouter(tags=["training runs"])


@router.post(
    "/v1/models/{name}/versions/from-pt",
    response_model=TrainingRunOut,
    status_code=201,
    summary="Upload a PyTorch checkpoint (.pt) to be converted to ONNX by the training worker",
    description="The file is a pickle: it is stored as it came, under uploads/<sha256>.pt in the models "
    "bucket, and only the worker opens it, in a sandboxed process. The answer is the conversion run; the "
    "version appears when it succeeds. With a dataset version, the result is evaluated and may be "
    "staged like a trained model.",
    responses={413: {"description": "Over the size limit"}, 422: {"description": "Not a torch.save file"}},
)
def upload_checkpoint(
    name: str,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    actor: ActorDep,
    queue: QueueDep,
    file: Annotated[UploadFile, File(description="A checkpoint written by torch.save (Ultralytics .pt)")],
    imgsz: Annotated[int, Form(ge=32, le=2048, multiple_of=32, description="ONNX input size")] = 640,
    dataset: Annotated[str | None, Form(pattern=NAME_PATTERN)] = None,
    dataset_version: Annotated[int | None, Form(ge=1, le=MAX_VERSION)] = None,
    selection_metric: Annotated[str | None, Form(pattern=METRIC_PATTERN)] = None,
    auto_promote: Annotated[bool, Form()] = False,
    time_limit_seconds: Annotated[int, Form(ge=60, le=MAX_TIME_LIMIT_SECONDS)] = CONVERT_TIME_LIMIT_SECONDS,
    created_by: Annotated[str | None, Form(max_length=100)] = None,
    notes: Annotated[str, Form(max_length=4000)] = "",
) -> TrainingRunOut:
    model = catalog.get_model(session, name)
    if (dataset is None) != (dataset_version is None):
        raise Problem(422, "Give dataset and dataset_version together, or neither.")
    dataset_ref = None
    if dataset is not None and dataset_version is not None:
        dataset_ref = training_inputs.dataset_version(session, dataset, dataset_version, for_training=False)
        if dataset_ref.task != model.task:
            raise Problem(
                422, f"Model {name!r} is a {model.task} model; dataset {dataset!r} is for {dataset_ref.task}."
            )
    path, _ = spool_upload(file, settings.max_pt_bytes, what="checkpoint", suffix=".pt")
    try:
        training_inputs.check_torch_checkpoint(path)
        with open(path, "rb") as fh:
            stored = store.put_content_addressed(
                settings.bucket("models"),
                "uploads",
                fh,
                content_type="application/octet-stream",
                suffix=".pt",
            )
    finally:
        os.unlink(path)
    run = TrainingRun(
        id=uuid.uuid4(),
        kind="convert",
        task=model.task,
        model_name=model.name,
        dataset=dataset,
        dataset_version=dataset_version,
        dataset_version_id=dataset_ref.id if dataset_ref else None,
        source_key=stored.key,
        source_sha256=stored.sha256,
        imgsz=imgsz,
        time_limit_seconds=time_limit_seconds,
        selection_metric=selection_metric or training.default_selection_metric(model.task),
        auto_promote=auto_promote,
        notes=notes,
        task_id=str(uuid.uuid4()),
        created_by=created_by or actor,
    )
    return queue_run(session, queue, run, CONVERT_TASK)
