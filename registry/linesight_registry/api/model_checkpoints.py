"""PyTorch checkpoint (.pt) uploads, next to the model routes: the registry stores the pickle untouched,
never opens it, and queues a conversion run; the version appears when the training worker converted it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from linesight_core.contracts.registry import MAX_VERSION, NAME_PATTERN
from linesight_core.contracts.training import (
    CONVERT_TIME_LIMIT_SECONDS,
    MAX_TIME_LIMIT_SECONDS,
    METRIC_PATTERN,
    TrainingRunOut,
)
from linesight_registry.api.deps import ActorDep, QueueDep, SessionDep, SettingsDep, StoreDep
from linesight_registry.api.uploads import spool_upload
from linesight_registry.domain import runs, training

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
    request = runs.ConvertRequest(
        dataset=dataset,
        dataset_version=dataset_version,
        imgsz=imgsz,
        selection_metric=selection_metric,
        auto_promote=auto_promote,
        time_limit_seconds=time_limit_seconds,
        created_by=created_by or actor,
        notes=notes,
    )
    run = runs.new_convert_run(
        session,
        store,
        queue,
        bucket=settings.bucket("models"),
        model_name=name,
        request=request,
        receive=lambda: spool_upload(file, settings.max_pt_bytes, what="checkpoint", suffix=".pt")[0],
    )
    return training.run_out(run)
