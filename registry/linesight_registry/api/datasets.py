"""Datasets: create and list, add images with labels, import YOLO zips and Label Studio exports, stats,
immutable versions with manifest and diff, and the YOLO zip export of any version."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import uuid
from typing import Annotated

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
    ImportFormat,
    ImportReport,
    ItemSource,
    LabelsUpdate,
    Manifest,
    Split,
    VersionDiff,
)
from linesight_core.contracts.registry import MAX_VERSION, Task
from linesight_core.errors import Problem
from linesight_core.images import decode_image
from linesight_core.storage import ObjectNotFound
from linesight_registry.api.deps import ActorDep, SessionDep, SettingsDep, StoreDep
from linesight_registry.api.uploads import spool_upload
from linesight_registry.domain import dataset_versions as versions
from linesight_registry.domain import datasets
from linesight_registry.domain.archives import ArchiveLimits, read_yolo
from linesight_registry.domain.export import ExportError, write_yolo_zip
from linesight_registry.domain.export_cache import build_once, export_key
from linesight_registry.domain.labels import CONTENT_TYPES, EXTENSIONS, check_labels, labels_from_text
from linesight_registry.domain.labelstudio import read_labelstudio
from linesight_registry.settings import RegistrySettings

dataset_routes = APIRouter(prefix="/v1/datasets", tags=["datasets"])
# The training worker and model lineage refer to a version by its id alone.
version_id_routes = APIRouter(prefix="/v1/dataset-versions", tags=["datasets"])
MEDIA_TYPES = {EXTENSIONS[f]: CONTENT_TYPES[f] for f in EXTENSIONS}

VersionPath = Annotated[int, Path(ge=1, le=MAX_VERSION, description="Version number")]


def _limits(settings: RegistrySettings) -> ArchiveLimits:
    return ArchiveLimits(
        max_members=settings.max_archive_members,
        max_total_bytes=settings.max_archive_uncompressed_bytes,
        image_max_bytes=settings.image_max_bytes,
        image_max_pixels=settings.image_max_pixels,
        max_json_bytes=settings.max_labelstudio_json_bytes,
    )


def _read_limited(upload: UploadFile, limit: int, what: str) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise Problem(413, f"The {what} is larger than the limit of {limit} bytes.")
    return data


@dataset_routes.post("", response_model=DatasetOut, status_code=201, summary="Create a dataset")
def create_dataset(body: DatasetCreate, session: SessionDep) -> DatasetOut:
    return datasets.dataset_out(session, [datasets.create_dataset(session, body)])[0]


@dataset_routes.get("", response_model=Page[DatasetOut], summary="List datasets")
def list_datasets(
    session: SessionDep,
    task: Task | None = None,
    station: str | None = Query(None, max_length=100, description="Gateway station name"),
    q: str | None = Query(None, max_length=100, description="Part of the name"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Page[DatasetOut]:
    found, total = datasets.list_datasets(
        session, task=task, station=station, q=q, limit=limit, offset=offset
    )
    return Page[DatasetOut](
        items=datasets.dataset_out(session, found), total=total, limit=limit, offset=offset
    )


@dataset_routes.get("/{name}", response_model=DatasetOut, summary="One dataset")
def get_dataset(name: str, session: SessionDep) -> DatasetOut:
    return datasets.dataset_out(session, [datasets.get_dataset(session, name)])[0]


@dataset_routes.patch(
    "/{name}", response_model=DatasetOut, summary="Change the description or station, add classes"
)
def update_dataset(name: str, body: DatasetUpdate, session: SessionDep) -> DatasetOut:
    return datasets.dataset_out(session, [datasets.update_dataset(session, name, body)])[0]


# --- items ------------------------------------------------------------------------------------------


@dataset_routes.post(
    "/{name}/items",
    response_model=DatasetItemOut,
    status_code=201,
    summary="Add an image with its labels",
    responses={
        200: {"description": "The image was in the dataset already: its labels were replaced"},
        413: {"description": "The image is over the size or pixel limit"},
        415: {"description": "Not an accepted image format"},
        422: {"description": "Not an image, or labels that do not fit the dataset"},
    },
)
def add_item(
    name: str,
    response: Response,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The photo (JPEG, PNG, WebP, BMP, TIFF)")],
    labels: Annotated[
        str,
        Form(
            max_length=1_000_000, description="detect: YOLO lines `class cx cy w h`; classify: a class name"
        ),
    ] = "",
    source: Annotated[ItemSource, Form()] = "upload",
    origin: Annotated[str, Form(max_length=1000, description="e.g. inspection:<id>")] = "",
) -> DatasetItemOut:
    dataset = datasets.get_dataset(session, name)
    data = _read_limited(file, settings.image_max_bytes, "image")
    decoded = decode_image(data, max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels)
    decoded.image.close()
    parsed = labels_from_text(dataset.task, dataset.class_names, labels)
    sha = hashlib.sha256(data).hexdigest()
    key = datasets.store_image(store, settings.bucket("datasets"), sha, decoded.format, data)
    item, created = datasets.upsert_item(
        session,
        dataset,
        sha256=sha,
        key=key,
        size_bytes=len(data),
        width=decoded.width,
        height=decoded.height,
        labels=parsed,
        source=source,
        origin=origin,
    )
    if not created:
        response.status_code = 200
    return datasets.item_out(item, dataset.name)


@dataset_routes.get("/{name}/items", response_model=Page[DatasetItemOut], summary="List a dataset's items")
def list_items(
    name: str,
    session: SessionDep,
    split: Split | None = None,
    source: ItemSource | None = None,
    labelled: bool | None = Query(None, description="false: background (detect) or no class (classify)"),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Page[DatasetItemOut]:
    dataset = datasets.get_dataset(session, name)
    found, total = datasets.list_items(
        session, dataset, split=split, source=source, labelled=labelled, limit=limit, offset=offset
    )
    items = [datasets.item_out(i, dataset.name) for i in found]
    return Page[DatasetItemOut](items=items, total=total, limit=limit, offset=offset)


@dataset_routes.get("/{name}/items/{item_id}", response_model=DatasetItemOut, summary="One item")
def get_item(name: str, item_id: uuid.UUID, session: SessionDep) -> DatasetItemOut:
    dataset = datasets.get_dataset(session, name)
    return datasets.item_out(datasets.get_item(session, dataset, item_id), dataset.name)


@dataset_routes.put(
    "/{name}/items/{item_id}/labels", response_model=DatasetItemOut, summary="Replace an item's labels"
)
def put_labels(name: str, item_id: uuid.UUID, body: LabelsUpdate, session: SessionDep) -> DatasetItemOut:
    dataset = datasets.get_dataset(session, name)
    item = datasets.get_item(session, dataset, item_id)
    datasets.set_labels(session, item, check_labels(dataset.task, dataset.class_names, body.labels))
    return datasets.item_out(item, dataset.name)


@dataset_routes.delete("/{name}/items/{item_id}", status_code=204, summary="Take an image out of the dataset")
def delete_item(name: str, item_id: uuid.UUID, session: SessionDep) -> Response:
    """The image stays in object storage: versions made before still list it."""
    dataset = datasets.get_dataset(session, name)
    session.delete(datasets.get_item(session, dataset, item_id))
    return Response(status_code=204)


@dataset_routes.get(
    "/{name}/items/{item_id}/image", summary="The item's image bytes", response_class=StreamingResponse
)
def get_image(
    name: str, item_id: uuid.UUID, session: SessionDep, store: StoreDep, settings: SettingsDep
) -> StreamingResponse:
    dataset = datasets.get_dataset(session, name)
    item = datasets.get_item(session, dataset, item_id)
    media = MEDIA_TYPES.get(os.path.splitext(item.image_key)[1], "application/octet-stream")
    chunks = store.iter_object(settings.bucket("datasets"), item.image_key)
    try:  # the first read opens the object: a missing one is answered here, before any header is sent
        first = next(chunks, b"")
    except ObjectNotFound:
        raise Problem(500, f"The image of item {item_id} is missing from object storage.") from None
    return StreamingResponse(
        itertools.chain([first], chunks),
        media_type=media,
        headers={"ETag": f'"{item.sha256}"', "Content-Length": str(item.size_bytes)},
    )


@dataset_routes.post(
    "/{name}/imports",
    response_model=ImportReport,
    summary="Import a YOLO dataset zip or a Label Studio export",
    responses={
        413: {"description": "The archive is over the size limit"},
        422: {"description": "The archive was refused whole; `errors` lists every problem found"},
    },
)
def import_archive(
    name: str,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile, File(description="A zip: YOLO dataset, or Label Studio JSON export + images")
    ],
    fmt: Annotated[ImportFormat, Form(alias="format", description="yolo or labelstudio")] = "yolo",
) -> ImportReport:
    """Everything is checked before anything is written. Splits in the archive are not kept: every
    item's split comes from its image hash, as for uploads."""
    dataset = datasets.get_dataset(session, name)
    path, _ = spool_upload(file, settings.max_archive_bytes, what="archive", suffix=".zip", allow_empty=True)
    try:
        limits = _limits(settings)
        reader = read_yolo if fmt == "yolo" else read_labelstudio
        parsed = reader(path, dataset.task, list(dataset.class_names), limits)
        return datasets.import_items(
            session,
            store,
            settings.bucket("datasets"),
            dataset,
            parsed,
            path=path,
            limits=limits,
            fmt=fmt,
            origin=f"{fmt}:{(file.filename or 'archive')[:200]}",
        )
    finally:
        os.unlink(path)


@dataset_routes.get(
    "/{name}/stats", response_model=DatasetStats, summary="Images per split, instances per class"
)
def get_stats(name: str, session: SessionDep) -> DatasetStats:
    return datasets.stats(session, datasets.get_dataset(session, name))


# --- versions ---------------------------------------------------------------------------------------


@dataset_routes.post(
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


@dataset_routes.get(
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


@dataset_routes.get("/{name}/versions/{version}", response_model=DatasetVersionOut, summary="One version")
def get_version(
    name: str, version: VersionPath, session: SessionDep, settings: SettingsDep
) -> DatasetVersionOut:
    dataset = datasets.get_dataset(session, name)
    row = versions.get_version(session, dataset, version)
    return versions.version_out(row, dataset.name, settings.bucket("datasets"))


@dataset_routes.get(
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


@dataset_routes.get(
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


@dataset_routes.get(
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


@version_id_routes.get(
    "/{version_id}", response_model=DatasetVersionOut, summary="A dataset version by its id"
)
def get_version_by_id(version_id: uuid.UUID, session: SessionDep, settings: SettingsDep) -> DatasetVersionOut:
    row, dataset = versions.get_version_by_id(session, version_id)
    return versions.version_out(row, dataset.name, settings.bucket("datasets"))


router = APIRouter()
router.include_router(dataset_routes)
router.include_router(version_id_routes)
