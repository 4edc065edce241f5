"""A dataset's immutable versions: freeze one, list and read them, the manifest, the diff between two,
and the YOLO zip export of any version."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from fastapi.responses import StreamingResponse

from linesight_core.contracts.common import Page
from linesight_core.contracts.datasets import DatasetVersionCreate, DatasetVersionOut, Manifest, VersionDiff
from linesight_core.contracts.registry import MAX_VERSION
from linesight_core.errors import Problem
from linesight_registry.api.deps import ActorDep, SessionDep, SettingsDep, StoreDep
from linesight_registry.domain import dataset_versions as versions
from linesight_registry.domain import datasets
from linesight_registry.domain.export import ExportError, write_yolo_zip
from linesight_registry.domain.export_cache import build_once, export_key

by_name = APIRouter(prefix="/v1/datasets", tags=["datasets"])
# The training worker and model lineage refer to a version by its id alone.
by_id = APIRouter(prefix="/v1/dataset-versions", tags=["datasets"])

VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version number")]


@by_name.post(
    "/{name}/versions",
    response_model=DatasetVersionOut,
    status_code=201,
    summary="Freeze the dataset as a new immutable version",
    responses={
        409: {"description": "Nothing changed since the latest version"},
        422: {"description": "No items"},
    },
)
def create_version(
    name: str,
    body: DatasetVersionCreate,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    actor: ActorDep,
) -> DatasetVersionOut:
    bucket = settings.bucket("datasets")
    row = versions.create_version(
        session, store, bucket, name, notes=body.notes, created_by=body.created_by or actor
    )
    return versions.version_out(row, name, bucket)


@by_name.get(
    "/{name}/versions", response_model=Page[DatasetVersionOut], summary="A dataset's versions, newest first"
)
def list_versions(
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Page[DatasetVersionOut]:
    dataset = datasets.get_dataset(session, name)
    rows, total = versions.list_versions(session, dataset, limit=limit, offset=offset)
    bucket = settings.bucket("datasets")
    items = [versions.version_out(r, dataset.name, bucket) for r in rows]
    return Page[DatasetVersionOut](items=items, total=total, limit=limit, offset=offset)


@by_name.get("/{name}/versions/{version}", response_model=DatasetVersionOut, summary="One version")
def get_version(
    name: str, version: VersionPath, session: SessionDep, settings: SettingsDep
) -> DatasetVersionOut:
    dataset = datasets.get_dataset(session, name)
    row = versions.get_version(session, dataset, version)
    return versions.version_out(row, dataset.name, settings.bucket("datasets"))


@by_name.get(
    "/{name}/versions/{version}/manifest",
    summary="The version's manifest, byte for byte as its sha256 was recorded",
    responses={200: {"model": Manifest, "content": {"application/json": {}}}},
)
def get_manifest(
    name: str, version: VersionPath, session: SessionDep, store: StoreDep, settings: SettingsDep
) -> Response:
    dataset = datasets.get_dataset(session, name)
    row = versions.get_version(session, dataset, version)
    data = versions.manifest_raw(store, settings.bucket("datasets"), row)
    return Response(data, media_type="application/json", headers={"ETag": f'"{row.manifest_sha256}"'})


@by_name.get(
    "/{name}/versions/{version}/diff", response_model=VersionDiff, summary="What changed between versions"
)
def get_diff(
    name: str,
    version: VersionPath,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    against: int | None = Query(None, ge=1, le=MAX_VERSION, description="Default: the previous version"),
) -> VersionDiff:
    dataset = datasets.get_dataset(session, name)
    row = versions.get_version(session, dataset, version)
    return versions.version_diff(session, store, settings.bucket("datasets"), dataset, row, against)


@by_name.get(
    "/{name}/versions/{version}/export",
    summary="The version as a YOLO zip (Ultralytics layout)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def export_version(
    name: str, version: VersionPath, session: SessionDep, store: StoreDep, settings: SettingsDep
) -> StreamingResponse:
    dataset = datasets.get_dataset(session, name)
    row = versions.get_version(session, dataset, version)
    bucket = settings.bucket("datasets")
    key = export_key(row.id)
    session.close()  # the export can take a while; it needs nothing more from the database
    try:
        # The first export of a version builds its zip into the datasets bucket; the rest stream it.
        if not store.exists(bucket, key):
            raw = versions.manifest_raw(store, bucket, row)
            manifest = json.loads(raw)
            build_once(store, bucket, key, lambda out: write_yolo_zip(store, bucket, manifest, raw, out))
        stored = store.open(bucket, key)
    except ExportError as exc:
        raise Problem(500, str(exc)) from None
    headers = {"Content-Disposition": f'attachment; filename="{dataset.name}-v{version}.zip"'}
    if stored.size >= 0:
        headers["Content-Length"] = str(stored.size)
    return StreamingResponse(stored.chunks, media_type="application/zip", headers=headers)


@by_id.get("/{version_id}", response_model=DatasetVersionOut, summary="A dataset version by its id")
def get_version_by_id(version_id: uuid.UUID, session: SessionDep, settings: SettingsDep) -> DatasetVersionOut:
    row, dataset = versions.get_version_by_id(session, version_id)
    return versions.version_out(row, dataset.name, settings.bucket("datasets"))


router = APIRouter()
router.include_router(by_name)
router.include_router(by_id)
