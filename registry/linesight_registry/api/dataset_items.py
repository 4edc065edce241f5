"""A dataset's items: add an image with its labels, list, read, relabel and remove items, and serve an
item's image."""

from __future__ import annotations

import hashlib
import itertools
import os
import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from linesight_core.contracts.common import Page
from linesight_core.contracts.datasets import DatasetItemOut, ItemSource, LabelsUpdate, Split
from linesight_core.errors import Problem
from linesight_core.images import decode_image
from linesight_core.storage import ObjectNotFound
from linesight_registry.api.deps import SessionDep, SettingsDep, StoreDep
from linesight_registry.domain import datasets
from linesight_registry.domain.labels import CONTENT_TYPES, EXTENSIONS, check_labels, labels_from_text

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
MEDIA_TYPES = {EXTENSIONS[f]: CONTENT_TYPES[f] for f in EXTENSIONS}


def _read_limited(upload: UploadFile, limit: int, what: str) -> bytes:
    data = upload.file.read(limit + 1)
    if len(data) > limit:
        raise Problem(413, f"The {what} is larger than the limit of {limit} bytes.")
    return data


@router.post(
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
            max_length=1_000_000,
            description="detect: YOLO lines `class cx cy w h`; segment: YOLO lines `class x1 y1 x2 y2 ...`; "
            "classify: a class name",
        ),
    ] = "",
    source: Annotated[ItemSource, Form()] = "upload",
    origin: Annotated[str, Form(max_length=1000, description="e.g. inspection:<id>")] = "",
) -> DatasetItemOut:
    dataset = datasets.get_dataset(session, name)
    data = _read_limited(file, settings.image_max_bytes, "image")
    decoded = decode_image(data, max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels)
    decoded.image.close()
    parsed = labels_from_text(dataset.task, dataset.class_names, labels, (decoded.width, decoded.height))
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


@router.get("/{name}/items", response_model=Page[DatasetItemOut], summary="List a dataset's items")
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


@router.get("/{name}/items/{item_id}", response_model=DatasetItemOut, summary="One item")
def get_item(name: str, item_id: uuid.UUID, session: SessionDep) -> DatasetItemOut:
    dataset = datasets.get_dataset(session, name)
    return datasets.item_out(datasets.get_item(session, dataset, item_id), dataset.name)


@router.put(
    "/{name}/items/{item_id}/labels", response_model=DatasetItemOut, summary="Replace an item's labels"
)
def put_labels(name: str, item_id: uuid.UUID, body: LabelsUpdate, session: SessionDep) -> DatasetItemOut:
    dataset = datasets.get_dataset(session, name)
    item = datasets.get_item(session, dataset, item_id)
    checked = check_labels(dataset.task, dataset.class_names, body.labels, (item.width, item.height))
    datasets.set_labels(session, item, checked)
    return datasets.item_out(item, dataset.name)


@router.delete("/{name}/items/{item_id}", status_code=204, summary="Take an image out of the dataset")
def delete_item(name: str, item_id: uuid.UUID, session: SessionDep) -> Response:
    """The image stays in object storage: versions made before still list it."""
    dataset = datasets.get_dataset(session, name)
    session.delete(datasets.get_item(session, dataset, item_id))
    return Response(status_code=204)


@router.get(
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
