"""Datasets: create, list and change them, import YOLO zips and Label Studio exports, and their stats.
Items are in dataset_items.py, versions in dataset_versions.py."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from linesight_core.contracts.common import Page
from linesight_core.contracts.datasets import (
    DatasetCreate,
    DatasetOut,
    DatasetStats,
    DatasetUpdate,
    ImportFormat,
    ImportReport,
)
from linesight_core.contracts.registry import Task
from linesight_registry.api.deps import SessionDep, SettingsDep, StoreDep
from linesight_registry.api.uploads import spool_upload
from linesight_registry.domain import datasets
from linesight_registry.domain.archives import ArchiveLimits, read_yolo
from linesight_registry.domain.labelstudio import read_labelstudio
from linesight_registry.settings import RegistrySettings

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


def _limits(settings: RegistrySettings) -> ArchiveLimits:
    return ArchiveLimits(
        max_members=settings.max_archive_members,
        max_total_bytes=settings.max_archive_uncompressed_bytes,
        image_max_bytes=settings.image_max_bytes,
        image_max_pixels=settings.image_max_pixels,
        max_json_bytes=settings.max_labelstudio_json_bytes,
    )


@router.post("", response_model=DatasetOut, status_code=201, summary="Create a dataset")
def create_dataset(body: DatasetCreate, session: SessionDep) -> DatasetOut:
    return datasets.dataset_out(session, [datasets.create_dataset(session, body)])[0]


@router.get("", response_model=Page[DatasetOut], summary="List datasets")
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


@router.get("/{name}", response_model=DatasetOut, summary="One dataset")
def get_dataset(name: str, session: SessionDep) -> DatasetOut:
    return datasets.dataset_out(session, [datasets.get_dataset(session, name)])[0]


@router.patch("/{name}", response_model=DatasetOut, summary="Change the description or station, add classes")
def update_dataset(name: str, body: DatasetUpdate, session: SessionDep) -> DatasetOut:
    return datasets.dataset_out(session, [datasets.update_dataset(session, name, body)])[0]


@router.post(
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


@router.get("/{name}/stats", response_model=DatasetStats, summary="Images per split, instances per class")
def get_stats(name: str, session: SessionDep) -> DatasetStats:
    return datasets.stats(session, datasets.get_dataset(session, name))
