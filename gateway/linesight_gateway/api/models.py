"""The registry's engineering API through the gateway: models, versions, compare, download and alias
moves, with role checks and the audit log. Reads need `viewer`; changes need `engineer`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from linesight_core.contracts.common import Page
from linesight_core.contracts.registry import (
    ALIAS_PATTERN,
    MAX_VERSION,
    NAME_PATTERN,
    AliasEventOut,
    AliasOut,
    ModelCreate,
    ModelOut,
    ModelUpdate,
    ModelVersionOut,
    ModelVersionUpdate,
    Task,
    VersionComparison,
    VersionStatus,
)
from linesight_core.errors import Problem
from linesight_gateway.api.deps import Engineer, RegistryDep, SessionDep, Viewer
from linesight_gateway.api.promotion_gate_schemas import GatedAliasMove
from linesight_gateway.api.registry_passthrough import actor, params_of, passthrough, stream
from linesight_gateway.domain import audit
from linesight_gateway.domain.access import Role
from linesight_gateway.domain.gated_promotion import refusal, verdict_for_move

VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version number")]

router = APIRouter(prefix="/api/v1/models", tags=["models"])

ModelName = Annotated[str, Path(pattern=NAME_PATTERN, examples=["bench-tools"])]
AliasName = Annotated[str, Path(pattern=ALIAS_PATTERN, examples=["production"])]
UPLOAD_TIMEOUT_SECONDS = 300.0


@router.get("", response_model=Page[ModelOut], summary="List models")
async def list_models(
    registry: RegistryDep,
    principal: Viewer,
    task: Task | None = None,
    q: str | None = Query(None, max_length=100),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Response:
    params = params_of(task=task, q=q, limit=limit, offset=offset)
    return await passthrough(registry, "GET", "/v1/models", params=params)


@router.post("", response_model=ModelOut, status_code=201, summary="Create a model")
async def create_model(
    registry: RegistryDep, body: ModelCreate, principal: Engineer, session: SessionDep
) -> ModelOut:
    resp = await registry.request("POST", "/v1/models", json=body.model_dump(), actor=actor(principal))
    model = ModelOut.model_validate_json(resp.content)
    audit.record(session, principal, "model.create", "model", model.name, {"task": model.task})
    return model


@router.get("/{name}", response_model=ModelOut, summary="One model with its aliases")
async def get_model(registry: RegistryDep, name: ModelName, principal: Viewer) -> Response:
    return await passthrough(registry, "GET", f"/v1/models/{name}")


@router.patch("/{name}", response_model=ModelOut, summary="Change a model's description")
async def update_model(
    registry: RegistryDep, name: ModelName, body: ModelUpdate, principal: Engineer, session: SessionDep
) -> ModelOut:
    resp = await registry.request(
        "PATCH", f"/v1/models/{name}", json=body.model_dump(), actor=actor(principal)
    )
    audit.record(session, principal, "model.update", "model", name, body.model_dump())
    return ModelOut.model_validate_json(resp.content)


@router.get("/{name}/versions", response_model=Page[ModelVersionOut], summary="List a model's versions")
async def list_versions(
    registry: RegistryDep,
    name: ModelName,
    principal: Viewer,
    status: VersionStatus | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Response:
    params = params_of(status=status, limit=limit, offset=offset)
    return await passthrough(registry, "GET", f"/v1/models/{name}/versions", params=params)


@router.post(
    "/{name}/versions",
    response_model=ModelVersionOut,
    status_code=201,
    summary="Upload an ONNX model as a new version",
    responses={
        200: {
            "model": ModelVersionOut,
            "description": "The same file was uploaded before: its existing version",
        }
    },
)
async def upload_version(
    registry: RegistryDep,
    response: Response,
    name: ModelName,
    principal: Engineer,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="The ONNX file exported by Ultralytics")],
    task: Annotated[
        Task | None, Form(description="The model's task, to check against the file", examples=["detect"])
    ] = None,
    class_names: Annotated[
        str | None,
        Form(description="JSON list of class names to check", examples=['["wrench", "screwdriver", "tape"]']),
    ] = None,
    imgsz: Annotated[
        str | None, Form(description="JSON [height, width] to check", examples=["[640, 640]"])
    ] = None,
    metrics: Annotated[
        str | None,
        Form(description="JSON object: metric name → value", examples=['{"mAP50": 0.78, "mAP50-95": 0.52}']),
    ] = None,
    params: Annotated[
        str | None,
        Form(description="JSON object: training parameters", examples=['{"epochs": 50, "imgsz": 640}']),
    ] = None,
    notes: Annotated[
        str, Form(max_length=4000, examples=["exported from run 17 on the lab workstation"])
    ] = "",
) -> ModelVersionOut:
    fields = {
        "task": task,
        "class_names": class_names,
        "imgsz": imgsz,
        "metrics": metrics,
        "params": params,
        "notes": notes,
        "created_by": actor(principal),
    }
    data = {k: v for k, v in fields.items() if v not in (None, "")}
    resp = await registry.request(
        "POST",
        f"/v1/models/{name}/versions",
        actor=actor(principal),
        data=data,
        files={"file": (file.filename or "model.onnx", file.file, "application/octet-stream")},
        timeout=UPLOAD_TIMEOUT_SECONDS,
    )
    version = ModelVersionOut.model_validate_json(resp.content)
    response.status_code = resp.status_code
    if resp.status_code == 201:
        audit.record(
            session,
            principal,
            "model_version.upload",
            "model_version",
            f"{name}:{version.version}",
            {"sha256": version.sha256, "size_bytes": version.size_bytes},
        )
    return version


@router.get("/{name}/versions/{version}", response_model=ModelVersionOut, summary="One version")
async def get_version(
    registry: RegistryDep, name: ModelName, version: VersionPath, principal: Viewer
) -> Response:
    return await passthrough(registry, "GET", f"/v1/models/{name}/versions/{version}")


@router.patch(
    "/{name}/versions/{version}", response_model=ModelVersionOut, summary="Archive or annotate a version"
)
async def update_version(
    registry: RegistryDep,
    name: ModelName,
    version: VersionPath,
    body: ModelVersionUpdate,
    principal: Engineer,
    session: SessionDep,
) -> ModelVersionOut:
    payload = body.model_dump(exclude_none=True)
    resp = await registry.request(
        "PATCH", f"/v1/models/{name}/versions/{version}", json=payload, actor=actor(principal)
    )
    audit.record(session, principal, "model_version.update", "model_version", f"{name}:{version}", payload)
    return ModelVersionOut.model_validate_json(resp.content)


@router.get(
    "/{name}/versions/{version}/download",
    summary="Download the ONNX artifact",
    description="The gateway streams the file from the registry; no link to the object store is handed "
    "out (a presigned link would carry the store's access key id). `X-Content-SHA256` is its digest.",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The ONNX file"}},
)
async def download_version(
    registry: RegistryDep, name: ModelName, version: VersionPath, principal: Engineer
) -> StreamingResponse:
    return await stream(registry, f"/v1/models/{name}/versions/{version}/artifact")


@router.get("/{name}/compare", response_model=VersionComparison, summary="Compare versions side by side")
async def compare(
    registry: RegistryDep,
    name: ModelName,
    principal: Viewer,
    versions: str = Query(
        ..., max_length=200, description="Comma-separated version numbers", examples=["1,2"]
    ),
) -> Response:
    return await passthrough(registry, "GET", f"/v1/models/{name}/compare", params={"versions": versions})


@router.get("/{name}/aliases", response_model=list[AliasOut], summary="Every alias of a model")
async def list_aliases(registry: RegistryDep, name: ModelName, principal: Viewer) -> Response:
    return await passthrough(registry, "GET", f"/v1/models/{name}/aliases")


@router.put(
    "/{name}/aliases/{alias}",
    response_model=AliasOut,
    summary="Promote or roll back: point an alias at a version",
    description="When a promotion gate guards the model (PUT .../promotion-gate), `production` moves only "
    "to a version whose latest replay at each gated station is at least as good as production; otherwise "
    "409 with the figures (`gate`) and the rules that failed (`failed_rules`). An admin may move it anyway "
    "with `override_reason`, which the audit log keeps with the figures.",
    responses={
        403: {"description": "override_reason from anyone but an admin"},
        404: {"description": "Unknown model or version"},
        409: {"description": "Refused by the promotion gate (type .../promotion-gate), with the figures"},
    },
)
async def move_alias(
    registry: RegistryDep,
    name: ModelName,
    alias: AliasName,
    body: GatedAliasMove,
    principal: Engineer,
    session: SessionDep,
) -> AliasOut:
    override = body.override_reason
    if override is not None and not principal.role.allows(Role.admin):
        raise Problem(
            403,
            "Only an admin may override the promotion gate (override_reason); ask an admin, or replay "
            "the version at the gated stations until it passes.",
        )
    verdict = await verdict_for_move(registry, session, name, alias, body.version)
    overridden = verdict is not None and not verdict.passed
    if overridden and override is None:
        raise refusal(verdict)  # type: ignore[arg-type]
    payload = body.model_dump(exclude={"override_reason"})
    payload["moved_by"] = actor(principal)
    if overridden:
        payload["reason"] = f"{body.reason} [promotion gate overridden: {override}]".strip()[:2000]
    resp = await registry.request(
        "PUT", f"/v1/models/{name}/aliases/{alias}", json=payload, actor=actor(principal)
    )
    moved = AliasOut.model_validate_json(resp.content)
    details: dict[str, Any] = {"alias": alias, "version": moved.version, "reason": body.reason}
    if verdict is not None:
        details["gate"] = verdict.as_json()
    if overridden:
        details["override_reason"] = override
    action = "model.promotion_gate_override" if overridden else "model.alias_move"
    audit.record(session, principal, action, "model", name, details)
    return moved


@router.delete("/{name}/aliases/{alias}", status_code=204, summary="Remove a user alias")
async def delete_alias(
    registry: RegistryDep,
    name: ModelName,
    alias: AliasName,
    principal: Engineer,
    session: SessionDep,
    reason: str = Query("", max_length=2000),
) -> Response:
    await registry.request(
        "DELETE", f"/v1/models/{name}/aliases/{alias}", params={"reason": reason}, actor=actor(principal)
    )
    audit.record(session, principal, "model.alias_delete", "model", name, {"alias": alias, "reason": reason})
    return Response(status_code=204)


@router.get(
    "/{name}/alias-history", response_model=Page[AliasEventOut], summary="Every alias move, newest first"
)
async def alias_history(
    registry: RegistryDep,
    name: ModelName,
    principal: Viewer,
    alias: str | None = Query(None, pattern=ALIAS_PATTERN),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Response:
    params = params_of(alias=alias, limit=limit, offset=offset)
    return await passthrough(registry, "GET", f"/v1/models/{name}/alias-history", params=params)
