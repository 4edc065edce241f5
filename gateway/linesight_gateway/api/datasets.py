"""The registry's datasets through the gateway: reads need `viewer`, changes need `engineer`; every change
is in the audit log. Uploads and exports are streamed through, never held whole in memory."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from linesight_core.contracts.common import Page
from linesight_core.contracts.datasets import (
    DatasetCreate,
    DatasetItemOut,
    DatasetOut,
    DatasetStats,
    DatasetUpdate,
    DatasetVersionCreate,
    DatasetVersionOut,
    ImportReport,
    LabelsUpdate,
    Manifest,
    VersionDiff,
)
from linesight_core.contracts.registry import MAX_VERSION, NAME_PATTERN, Task
from linesight_gateway.api.deps import Engineer, RegistryDep, SessionDep, Viewer
from linesight_gateway.api.registry_passthrough import (
    UPLOAD_TIMEOUT_SECONDS,
    actor,
    params_of,
    passthrough,
    stream,
)
from linesight_gateway.domain import audit

router = APIRouter(prefix="/api/v1/datasets", tags=["datasets"])

DatasetName = Annotated[str, Path(pattern=NAME_PATTERN, examples=["bench-tools"])]
VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Dataset version number")]
Split = Literal["train", "val", "test"]
Source = Literal["upload", "feedback", "import"]


@router.post("", response_model=DatasetOut, status_code=201, summary="Create a dataset")
async def create_dataset(
    registry: RegistryDep, body: DatasetCreate, principal: Engineer, session: SessionDep
) -> Response:
    resp = await passthrough(
        registry, "POST", "/v1/datasets", json=body.model_dump(mode="json"), actor=actor(principal)
    )
    audit.record(session, principal, "dataset.create", "dataset", body.name, {"task": body.task})
    return resp


@router.get("", response_model=Page[DatasetOut], summary="List datasets")
async def list_datasets(
    registry: RegistryDep,
    principal: Viewer,
    task: Task | None = None,
    station: str | None = Query(None, max_length=100),
    q: str | None = Query(None, max_length=100, description="Part of the name"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Response:
    params = params_of(task=task, station=station, q=q, limit=limit, offset=offset)
    return await passthrough(registry, "GET", "/v1/datasets", params=params)


@router.get("/{name}", response_model=DatasetOut, summary="One dataset")
async def get_dataset(registry: RegistryDep, name: DatasetName, principal: Viewer) -> Response:
    return await passthrough(registry, "GET", f"/v1/datasets/{name}")


@router.patch("/{name}", response_model=DatasetOut, summary="Change a dataset's description or add classes")
async def update_dataset(
    registry: RegistryDep, name: DatasetName, body: DatasetUpdate, principal: Engineer, session: SessionDep
) -> Response:
    payload = body.model_dump(mode="json", exclude_unset=True)
    resp = await passthrough(registry, "PATCH", f"/v1/datasets/{name}", json=payload, actor=actor(principal))
    audit.record(session, principal, "dataset.update", "dataset", name, payload)
    return resp


@router.post(
    "/{name}/items",
    response_model=DatasetItemOut,
    status_code=201,
    summary="Add an image with its labels",
    responses={
        200: {"model": DatasetItemOut, "description": "The image was there already: its labels were replaced"}
    },
)
async def add_item(
    registry: RegistryDep,
    name: DatasetName,
    principal: Engineer,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="JPEG, PNG, WEBP, BMP or TIFF")],
    labels: Annotated[
        str,
        Form(
            max_length=200_000,
            description="detect: YOLO lines `class cx cy w h`; segment: YOLO lines `class x1 y1 x2 y2 ...` "
            "(normalised); classify: the class name",
            examples=["0 0.300000 0.450000 0.120000 0.380000\n1 0.620000 0.500000 0.080000 0.410000"],
        ),
    ] = "",
    origin: Annotated[
        str, Form(max_length=200, description="Where the photo comes from", examples=["bench camera 2"])
    ] = "",
) -> Response:
    resp = await passthrough(
        registry,
        "POST",
        f"/v1/datasets/{name}/items",
        files={
            "file": (file.filename or "image", file.file, file.content_type or "application/octet-stream")
        },
        data={"labels": labels, "source": "upload", "origin": origin or f"upload by {principal.name}"},
        actor=actor(principal),
        timeout=UPLOAD_TIMEOUT_SECONDS,
    )
    audit.record(
        session,
        principal,
        "dataset.item.add" if resp.status_code == 201 else "dataset.item.replace",
        "dataset",
        name,
        {"filename": file.filename},
    )
    return resp


@router.get("/{name}/items", response_model=Page[DatasetItemOut], summary="List a dataset's items")
async def list_items(
    registry: RegistryDep,
    name: DatasetName,
    principal: Viewer,
    split: Split | None = None,
    source: Source | None = None,
    labelled: bool | None = None,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Response:
    params = params_of(split=split, source=source, labelled=labelled, limit=limit, offset=offset)
    return await passthrough(registry, "GET", f"/v1/datasets/{name}/items", params=params)


@router.get("/{name}/items/{item_id}", response_model=DatasetItemOut, summary="One item")
async def get_item(
    registry: RegistryDep, name: DatasetName, item_id: uuid.UUID, principal: Viewer
) -> Response:
    return await passthrough(registry, "GET", f"/v1/datasets/{name}/items/{item_id}")


@router.put(
    "/{name}/items/{item_id}/labels", response_model=DatasetItemOut, summary="Replace an item's labels"
)
async def put_labels(
    registry: RegistryDep,
    name: DatasetName,
    item_id: uuid.UUID,
    body: LabelsUpdate,
    principal: Engineer,
    session: SessionDep,
) -> Response:
    payload = body.model_dump(mode="json")
    resp = await passthrough(
        registry, "PUT", f"/v1/datasets/{name}/items/{item_id}/labels", json=payload, actor=actor(principal)
    )
    audit.record(session, principal, "dataset.item.relabel", "dataset_item", str(item_id), {"dataset": name})
    return resp


@router.delete("/{name}/items/{item_id}", status_code=204, summary="Remove an item")
async def delete_item(
    registry: RegistryDep, name: DatasetName, item_id: uuid.UUID, principal: Engineer, session: SessionDep
) -> Response:
    await registry.request("DELETE", f"/v1/datasets/{name}/items/{item_id}", actor=actor(principal))
    audit.record(session, principal, "dataset.item.delete", "dataset_item", str(item_id), {"dataset": name})
    return Response(status_code=204)


@router.get(
    "/{name}/items/{item_id}/image",
    summary="An item's image",
    response_class=StreamingResponse,
    responses={200: {"content": {"image/*": {}}, "description": "The image as it was added"}},
)
async def item_image(
    registry: RegistryDep, name: DatasetName, item_id: uuid.UUID, principal: Viewer
) -> Response:
    return await stream(registry, f"/v1/datasets/{name}/items/{item_id}/image")


@router.post(
    "/{name}/imports",
    response_model=ImportReport,
    summary="Import a YOLO dataset zip or a Label Studio export",
    responses={422: {"description": "The archive was refused whole; `errors` lists every problem"}},
)
async def import_archive(
    registry: RegistryDep,
    name: DatasetName,
    principal: Engineer,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="A zip: YOLO (data.yaml) or Label Studio JSON + images")],
    format: Annotated[
        Literal["yolo", "labelstudio"], Form(description="How the archive is laid out", examples=["yolo"])
    ] = "yolo",
) -> Response:
    resp = await passthrough(
        registry,
        "POST",
        f"/v1/datasets/{name}/imports",
        files={"file": (file.filename or "dataset.zip", file.file, "application/zip")},
        data={"format": format},
        actor=actor(principal),
        timeout=UPLOAD_TIMEOUT_SECONDS,
    )
    report = ImportReport.model_validate_json(resp.body)
    audit.record(
        session,
        principal,
        "dataset.import",
        "dataset",
        name,
        {"format": format, "filename": file.filename, "added": report.added, "replaced": report.replaced},
    )
    return resp


@router.get("/{name}/stats", response_model=DatasetStats, summary="Images per split, instances per class")
async def stats(registry: RegistryDep, name: DatasetName, principal: Viewer) -> Response:
    return await passthrough(registry, "GET", f"/v1/datasets/{name}/stats")


@router.post(
    "/{name}/versions",
    response_model=DatasetVersionOut,
    status_code=201,
    summary="Freeze the dataset as a new immutable version",
    responses={409: {"description": "Nothing changed since the latest version"}},
)
async def create_version(
    registry: RegistryDep,
    name: DatasetName,
    body: DatasetVersionCreate,
    principal: Engineer,
    session: SessionDep,
) -> Response:
    payload = body.model_dump(mode="json")
    payload["created_by"] = actor(principal)
    resp = await passthrough(
        registry, "POST", f"/v1/datasets/{name}/versions", json=payload, actor=actor(principal)
    )
    version = DatasetVersionOut.model_validate_json(resp.body)
    audit.record(
        session,
        principal,
        "dataset.version.create",
        "dataset",
        name,
        {"version": version.version, "items": version.item_count},
    )
    return resp


@router.get("/{name}/versions", response_model=Page[DatasetVersionOut], summary="A dataset's versions")
async def list_versions(
    registry: RegistryDep,
    name: DatasetName,
    principal: Viewer,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Response:
    return await passthrough(
        registry, "GET", f"/v1/datasets/{name}/versions", params={"limit": limit, "offset": offset}
    )


@router.get("/{name}/versions/{version}", response_model=DatasetVersionOut, summary="One version")
async def get_version(
    registry: RegistryDep, name: DatasetName, version: VersionPath, principal: Viewer
) -> Response:
    return await passthrough(registry, "GET", f"/v1/datasets/{name}/versions/{version}")


@router.get("/{name}/versions/{version}/manifest", response_model=Manifest, summary="A version's manifest")
async def get_manifest(
    registry: RegistryDep, name: DatasetName, version: VersionPath, principal: Viewer
) -> Response:
    return await stream(registry, f"/v1/datasets/{name}/versions/{version}/manifest")


@router.get(
    "/{name}/versions/{version}/diff", response_model=VersionDiff, summary="What changed between versions"
)
async def diff(
    registry: RegistryDep,
    name: DatasetName,
    version: VersionPath,
    principal: Viewer,
    against: int | None = Query(None, ge=1, le=MAX_VERSION, description="Default: the previous version"),
) -> Response:
    return await passthrough(
        registry, "GET", f"/v1/datasets/{name}/versions/{version}/diff", params=params_of(against=against)
    )


@router.get(
    "/{name}/versions/{version}/export",
    summary="A version as a YOLO zip (data.yaml, images/, labels/)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "The zip, streamed"}},
)
async def export(
    registry: RegistryDep, name: DatasetName, version: VersionPath, principal: Engineer
) -> Response:
    return await stream(registry, f"/v1/datasets/{name}/versions/{version}/export")
