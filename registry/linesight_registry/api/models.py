"""Models and their versions: create, list, upload ONNX, inspect, archive, download, compare."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from linesight_core.contracts.common import Page
from linesight_core.contracts.registry import (
    MAX_VERSION,
    ArtifactLink,
    ModelCreate,
    ModelOut,
    ModelUpdate,
    ModelVersionOut,
    ModelVersionUpdate,
    PromotionGateFlag,
    Task,
    VersionComparison,
    VersionStatus,
)
from linesight_core.errors import Problem
from linesight_core.storage import ObjectNotFound
from linesight_registry.api.deps import ActorDep, SessionDep, SettingsDep, StoreDep
from linesight_registry.api.uploads import spool_upload
from linesight_registry.domain import catalog
from linesight_registry.domain.compare import compare_versions
from linesight_registry.domain.onnx_artifact import check_claims, inspect_onnx

VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version number")]

router = APIRouter(prefix="/v1/models", tags=["models"])


@router.post("", response_model=ModelOut, status_code=201, summary="Create a model")
def create_model(body: ModelCreate, session: SessionDep) -> ModelOut:
    model = catalog.create_model(session, body.name, body.task, body.description)
    return catalog.model_out(session, [model])[0]


@router.get("", response_model=Page[ModelOut], summary="List models")
def list_models(
    session: SessionDep,
    task: Task | None = None,
    q: str | None = Query(None, max_length=100, description="Part of the name"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Page[ModelOut]:
    models, total = catalog.list_models(session, task=task, q=q, limit=limit, offset=offset)
    return Page[ModelOut](items=catalog.model_out(session, models), total=total, limit=limit, offset=offset)


@router.get("/{name}", response_model=ModelOut, summary="One model with its aliases")
def get_model(name: str, session: SessionDep) -> ModelOut:
    return catalog.model_out(session, [catalog.get_model(session, name)])[0]


@router.patch("/{name}", response_model=ModelOut, summary="Change a model's description")
def update_model(name: str, body: ModelUpdate, session: SessionDep) -> ModelOut:
    model = catalog.get_model(session, name)
    model.description = body.description
    session.flush()
    return catalog.model_out(session, [model])[0]


@router.put(
    "/{name}/promotion-gate",
    response_model=ModelOut,
    summary="Mark the model's production as guarded by the gateway's promotion gate (or not)",
    description="While gated, a training run's auto-promotion stages the new version but leaves "
    "production alone; the gateway moves production once the version's replay passes its gate.",
)
def set_promotion_gate(name: str, body: PromotionGateFlag, session: SessionDep) -> ModelOut:
    model = catalog.get_model(session, name)
    model.promotion_gated = body.gated
    session.flush()
    return catalog.model_out(session, [model])[0]


def _json_field(raw: str | None, field: str, kind: type) -> Any:
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise Problem(422, f"The form field {field!r} must be JSON; got {raw[:60]!r}.") from None
    if not isinstance(value, kind):
        raise Problem(422, f"The form field {field!r} must be a JSON {kind.__name__}.")
    return value


@router.post(
    "/{name}/versions",
    response_model=ModelVersionOut,
    status_code=201,
    summary="Upload an ONNX model as a new version",
    responses={
        200: {"description": "The same file was uploaded before: its existing version"},
        413: {"description": "The file is over the size limit"},
        422: {"description": "Not a servable YOLO ONNX model, or the claims do not match the file"},
    },
)
def upload_version(
    name: str,
    response: Response,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    actor: ActorDep,
    file: Annotated[UploadFile, File(description="The ONNX file exported by Ultralytics")],
    task: Annotated[Task | None, Form()] = None,
    class_names: Annotated[str | None, Form(description='JSON list or {"0": "name"} map to check')] = None,
    imgsz: Annotated[str | None, Form(description="JSON [height, width] to check")] = None,
    metrics: Annotated[str | None, Form(description="JSON object")] = None,
    params: Annotated[str | None, Form(description="JSON object")] = None,
    dataset_version_id: Annotated[uuid.UUID | None, Form()] = None,
    training_run_id: Annotated[uuid.UUID | None, Form()] = None,
    created_by: Annotated[str | None, Form(max_length=100)] = None,
    notes: Annotated[str, Form(max_length=4000)] = "",
) -> ModelVersionOut:
    model = catalog.get_model(session, name)
    names_claim = _json_field(class_names, "class_names", list | dict)  # type: ignore[arg-type]
    imgsz_claim = _json_field(imgsz, "imgsz", list)
    metrics_v = _json_field(metrics, "metrics", dict) or {}
    params_v = _json_field(params, "params", dict) or {}
    path, size = spool_upload(file, settings.max_artifact_bytes, what="artifact", suffix=".onnx")
    try:
        info = inspect_onnx(path, max_imgsz=settings.max_model_imgsz)
        check_claims(info, task=task, class_names=names_claim, imgsz=imgsz_claim)
        if info.task != model.task:
            raise Problem(422, f"Model {name!r} is a {model.task} model; the file is a {info.task} model.")
        bucket = settings.bucket("models")
        with open(path, "rb") as fh:
            stored = store.put_content_addressed(
                bucket, "onnx", fh, content_type="application/octet-stream", suffix=".onnx"
            )
        existing = catalog.find_version_by_sha(session, model, stored.sha256)
        if existing is not None:
            response.status_code = 200
            aliases = catalog.aliases_of_versions(session, model.id).get(existing.id, [])
            return catalog.version_out(existing, model.name, bucket, aliases)
        version = catalog.add_version(
            session,
            model,
            info,
            sha256=stored.sha256,
            artifact_key=stored.key,
            size_bytes=size,
            metrics=metrics_v,
            params=params_v,
            dataset_version_id=dataset_version_id,
            training_run_id=training_run_id,
            created_by=created_by or actor,
            notes=notes,
        )
        return catalog.version_out(version, model.name, bucket, [])
    finally:
        os.unlink(path)


@router.get("/{name}/versions", response_model=Page[ModelVersionOut], summary="List a model's versions")
def list_versions(
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    status: VersionStatus | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Page[ModelVersionOut]:
    model = catalog.get_model(session, name)
    versions, total = catalog.list_versions(session, model, status=status, limit=limit, offset=offset)
    aliases = catalog.aliases_of_versions(session, model.id)
    bucket = settings.bucket("models")
    items = [catalog.version_out(v, model.name, bucket, aliases.get(v.id, [])) for v in versions]
    return Page[ModelVersionOut](items=items, total=total, limit=limit, offset=offset)


@router.get("/{name}/versions/{version}", response_model=ModelVersionOut, summary="One version")
def get_version(
    name: str, version: VersionPath, session: SessionDep, settings: SettingsDep
) -> ModelVersionOut:
    model = catalog.get_model(session, name)
    v = catalog.get_version(session, model, version)
    aliases = catalog.aliases_of_versions(session, model.id).get(v.id, [])
    return catalog.version_out(v, model.name, settings.bucket("models"), aliases)


@router.patch(
    "/{name}/versions/{version}", response_model=ModelVersionOut, summary="Archive or annotate a version"
)
def update_version(
    name: str, version: VersionPath, body: ModelVersionUpdate, session: SessionDep, settings: SettingsDep
) -> ModelVersionOut:
    model = catalog.get_model(session, name)
    v = catalog.get_version(session, model, version)
    aliases = catalog.aliases_of_versions(session, model.id).get(v.id, [])
    if body.status == "archived" and aliases:
        raise Problem(
            409, f"Version {version} is still the target of {', '.join(aliases)}; move those first."
        )
    if body.status is not None:
        v.status = body.status
    if body.notes is not None:
        v.notes = body.notes
    session.flush()
    return catalog.version_out(v, model.name, settings.bucket("models"), aliases)


@router.get(
    "/{name}/versions/{version}/download",
    response_model=ArtifactLink,
    summary="A presigned URL to download the ONNX artifact",
)
def download_version(
    name: str,
    version: VersionPath,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    # For services on the internal network only: the link carries the store's access key id, so the
    # gateway streams the artifact (below) instead of handing links out, and a link lives at most 1 h.
    expires_minutes: int = Query(15, ge=1, le=60),
) -> ArtifactLink:
    model = catalog.get_model(session, name)
    v = catalog.get_version(session, model, version)
    expires = timedelta(minutes=expires_minutes)
    url = store.presigned_get(settings.bucket("models"), v.artifact_key, expires=expires)
    return ArtifactLink(
        url=url, expires_at=datetime.now(UTC) + expires, sha256=v.sha256, size_bytes=v.size_bytes
    )


@router.get(
    "/{name}/versions/{version}/artifact",
    summary="The ONNX artifact itself, streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The ONNX file"}},
)
def stream_version(
    name: str, version: VersionPath, session: SessionDep, store: StoreDep, settings: SettingsDep
) -> StreamingResponse:
    model = catalog.get_model(session, name)
    v = catalog.get_version(session, model, version)
    session.close()  # a download can take a while; it needs nothing more from the database
    try:
        artifact = store.open(settings.bucket("models"), v.artifact_key)
    except ObjectNotFound:
        raise Problem(
            404, f"The ONNX file of {name} version {version} is missing from object storage."
        ) from None
    return StreamingResponse(
        artifact.chunks,
        media_type="application/octet-stream",
        headers={
            "Content-Length": str(v.size_bytes),
            "Content-Disposition": f'attachment; filename="{name}-v{version}.onnx"',
            "X-Content-SHA256": v.sha256,
        },
    )


@router.get("/{name}/compare", response_model=VersionComparison, summary="Compare versions side by side")
def compare(
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    versions: str = Query(..., description="Comma-separated version numbers, at least two", examples=["1,2"]),
) -> VersionComparison:
    try:
        numbers = sorted({int(x) for x in versions.split(",") if x.strip()})
    except ValueError:
        raise Problem(422, f"versions must be comma-separated numbers, like 1,2; got {versions!r}.") from None
    if len(numbers) < 2:
        raise Problem(422, "Give at least two different versions to compare.")
    if len(numbers) > 20:
        raise Problem(422, "Compare at most 20 versions at once.")
    model = catalog.get_model(session, name)
    aliases = catalog.aliases_of_versions(session, model.id)
    bucket = settings.bucket("models")
    outs = []
    for n in numbers:
        v = catalog.get_version(session, model, n)
        outs.append(catalog.version_out(v, model.name, bucket, aliases.get(v.id, [])))
    return compare_versions(model.name, outs)
