"""Training runs through the gateway: engineers start, watch and cancel them, and upload PyTorch
checkpoints (.pt) for conversion; everyone with a key can watch. Every change is in the audit log."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from linesight_core.contracts.common import Page
from linesight_core.contracts.registry import MAX_VERSION, NAME_PATTERN
from linesight_core.contracts.training import (
    CONVERT_TIME_LIMIT_SECONDS,
    MAX_TIME_LIMIT_SECONDS,
    METRIC_PATTERN,
    EpochRecord,
    RunKind,
    RunStatus,
    TrainingRunCreate,
    TrainingRunOut,
)
from linesight_core.errors import Problem
from linesight_gateway.api.deps import Engineer, RegistryDep, SessionDep, SettingsDep, Viewer, run_limits
from linesight_gateway.api.registry_passthrough import (
    UPLOAD_TIMEOUT_SECONDS,
    actor,
    params_of,
    passthrough,
    stream,
)
from linesight_gateway.domain import audit
from linesight_gateway.domain.run_limits import refusal

router = APIRouter(tags=["training runs"])
RUNS = "/api/v1/training-runs"
RUN = RUNS + "/{run_id}"


@router.post(
    RUNS,
    response_model=TrainingRunOut,
    status_code=201,
    summary="Start a training run",
    responses={429: {"description": "The hourly limit of training runs is reached; `Retry-After` says when"}},
)
async def create_run(
    registry: RegistryDep,
    settings: SettingsDep,
    body: TrainingRunCreate,
    principal: Engineer,
    session: SessionDep,
) -> Response:
    refused = await run_in_threadpool(refusal, session, run_limits(settings))
    if refused is not None:
        raise Problem(
            429,
            refused.reason,
            title="Training run limit reached",
            headers={"Retry-After": str(refused.retry_after_seconds())},
        )
    resp = await passthrough(
        registry, "POST", "/v1/training-runs", json=body.model_dump(mode="json"), actor=actor(principal)
    )
    run = TrainingRunOut.model_validate_json(resp.body)
    audit.record(
        session,
        principal,
        "training_run.create",
        "training_run",
        str(run.id),
        {"model": run.model_name, "dataset": run.dataset, "dataset_version": run.dataset_version},
    )
    return resp


@router.get(RUNS, response_model=Page[TrainingRunOut], summary="List training runs, newest first")
async def list_runs(
    registry: RegistryDep,
    principal: Viewer,
    status: RunStatus | None = None,
    kind: RunKind | None = None,
    model: str | None = Query(None, pattern=NAME_PATTERN),
    dataset: str | None = Query(None, pattern=NAME_PATTERN),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Response:
    params = params_of(status=status, kind=kind, model=model, dataset=dataset, limit=limit, offset=offset)
    return await passthrough(registry, "GET", "/v1/training-runs", params=params)


@router.get(RUN, response_model=TrainingRunOut, summary="One run: status, latest epoch, evaluation")
async def get_run(registry: RegistryDep, run_id: uuid.UUID, principal: Viewer) -> Response:
    return await passthrough(registry, "GET", f"/v1/training-runs/{run_id}")


@router.get(RUN + "/epochs", response_model=list[EpochRecord], summary="Every epoch the run reported")
async def list_epochs(
    registry: RegistryDep,
    run_id: uuid.UUID,
    principal: Viewer,
    after: int = Query(0, ge=0, le=1000, description="Only epochs after this one (poll with the last seen)"),
    attempt: int | None = Query(None, ge=1, le=1000, description="Default: the current attempt"),
) -> Response:
    params = params_of(after=after, attempt=attempt)
    return await passthrough(registry, "GET", f"/v1/training-runs/{run_id}/epochs", params=params)


@router.get(
    RUN + "/artifacts/{artifact}",
    summary="One evaluation plot of a run (PNG)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The plot: `confusion_matrix.png`, `pr_curve.png`, `reliability_diagram.png`",
            "content": {"image/png": {}},
        },
        404: {"description": "No such plot; model weights are at .../weights/{artifact}"},
    },
)
async def get_artifact(
    registry: RegistryDep,
    run_id: uuid.UUID,
    artifact: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_.-]+$", examples=["pr_curve.png"])],
    principal: Viewer,
) -> StreamingResponse:
    if not artifact.endswith(".png"):
        # Weights are a model artifact: one rule for every model artifact (ONNX or .pt), engineer.
        raise Problem(
            404,
            f"{artifact} is not an evaluation plot of a run. Model weights (best.pt) are served to "
            f"engineers at {RUN.format(run_id=run_id)}/weights/{artifact}.",
        )
    return await stream(registry, f"/v1/training-runs/{run_id}/artifacts/{artifact}")


@router.get(
    RUN + "/weights/{artifact}",
    summary="The PyTorch weights a run made (best.pt)",
    response_class=StreamingResponse,
    responses={200: {"description": "The checkpoint", "content": {"application/octet-stream": {}}}},
)
async def get_weights(
    registry: RegistryDep,
    run_id: uuid.UUID,
    artifact: Annotated[str, Path(max_length=100, pattern=r"^[A-Za-z0-9_-]+\.pt$", examples=["best.pt"])],
    principal: Engineer,
) -> StreamingResponse:
    return await stream(registry, f"/v1/training-runs/{run_id}/artifacts/{artifact}")


@router.post(
    RUN + "/cancel",
    response_model=TrainingRunOut,
    summary="Cancel: a queued run at once, a running one at the end of its current epoch",
    responses={409: {"description": "The run has finished already"}},
)
async def cancel_run(
    registry: RegistryDep, run_id: uuid.UUID, principal: Engineer, session: SessionDep
) -> Response:
    resp = await passthrough(registry, "POST", f"/v1/training-runs/{run_id}/cancel", actor=actor(principal))
    audit.record(session, principal, "training_run.cancel", "training_run", str(run_id), {})
    return resp


@router.post(
    "/api/v1/models/{name}/versions/from-pt",
    response_model=TrainingRunOut,
    status_code=201,
    summary="Upload a PyTorch checkpoint (.pt) to be converted to ONNX",
    description="A .pt file is a Python pickle and can run code when it is opened. Only the training "
    "worker opens it, in a separate process with memory and CPU limits and without the platform's "
    "credentials; the gateway and the registry store it untouched. Upload only files from people you "
    "trust. The answer is the conversion run; the model version appears when it succeeds.",
    tags=["models"],
)
async def upload_checkpoint(
    registry: RegistryDep,
    name: Annotated[str, Path(pattern=NAME_PATTERN, examples=["bench-tools"])],
    principal: Engineer,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="A checkpoint written by Ultralytics (torch.save)")],
    imgsz: Annotated[
        int, Form(ge=32, le=2048, multiple_of=32, description="ONNX input size", examples=[640])
    ] = 640,
    dataset: Annotated[
        str | None,
        Form(
            pattern=NAME_PATTERN,
            description="Dataset to evaluate the new version on",
            examples=["bench-tools"],
        ),
    ] = None,
    dataset_version: Annotated[
        int | None, Form(ge=1, le=MAX_VERSION, description="Version of that dataset", examples=[3])
    ] = None,
    selection_metric: Annotated[
        str | None,
        Form(pattern=METRIC_PATTERN, description="Metric to compare with production", examples=["mAP50-95"]),
    ] = None,
    auto_promote: Annotated[
        bool, Form(description="Move production too when the new version is better", examples=[False])
    ] = False,
    time_limit_seconds: Annotated[
        int,
        Form(
            ge=60,
            le=MAX_TIME_LIMIT_SECONDS,
            description="Stop and fail the conversion after",
            examples=[1800],
        ),
    ] = CONVERT_TIME_LIMIT_SECONDS,
    notes: Annotated[str, Form(max_length=4000, examples=["checkpoint from the lab workstation"])] = "",
) -> Response:
    fields = {
        "imgsz": imgsz,
        "dataset": dataset,
        "dataset_version": dataset_version,
        "selection_metric": selection_metric,
        "auto_promote": str(auto_promote).lower(),
        "time_limit_seconds": time_limit_seconds,
        "created_by": actor(principal),
        "notes": notes,
    }
    resp = await passthrough(
        registry,
        "POST",
        f"/v1/models/{name}/versions/from-pt",
        files={"file": (file.filename or "model.pt", file.file, "application/octet-stream")},
        data={k: str(v) for k, v in fields.items() if v is not None},
        actor=actor(principal),
        timeout=UPLOAD_TIMEOUT_SECONDS,
    )
    run = TrainingRunOut.model_validate_json(resp.body)
    audit.record(
        session, principal, "model.pt_upload", "model", name, {"run": str(run.id), "filename": file.filename}
    )
    return resp
