"""What a model version's training photos look like: the photo statistics of a sample of its dataset
version's train split, computed on first request and kept with the (immutable) dataset version."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy.orm import Session

from linesight_core.contracts.registry import TrainingPhotos
from linesight_core.errors import Problem
from linesight_core.images import ImageRejected, decode_image
from linesight_core.photo_stats import photo_stats, stats_fit
from linesight_core.storage import ObjectNotFound, ObjectStore
from linesight_registry.db.models import DatasetVersion, ModelVersion
from linesight_registry.domain import dataset_versions

log = logging.getLogger(__name__)

# Enough for a median and a MAD to settle; a first request decodes this many stored photos once.
SAMPLE = 200


def sample(items: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """The split compared with (train, or every item when the version has none) and the items sampled
    from it: the first SAMPLE by sha256, which is random with respect to the photos and repeatable."""
    train = [i for i in items if i.get("split") == "train"]
    split, pool = ("train", train) if train else ("all", items)
    return split, sorted(pool, key=lambda i: i["sha256"])[:SAMPLE]


def _stats(store: ObjectStore, bucket: str, item: dict[str, Any], limits: tuple[int, int]) -> dict | None:
    try:
        data = store.get_bytes(bucket, item["image_key"])
        decoded = decode_image(data, max_bytes=limits[0], max_pixels=limits[1], fit=stats_fit)
    except (ObjectNotFound, ImageRejected) as exc:
        log.warning("training photo unreadable", extra={"key": item["image_key"], "error": str(exc)[:200]})
        return None
    return photo_stats(decoded.image, size=(decoded.width, decoded.height))


def training_photos(
    session: Session,
    store: ObjectStore,
    bucket: str,
    model_name: str,
    version: ModelVersion,
    *,
    max_image_bytes: int,
    max_image_pixels: int,
) -> TrainingPhotos:
    if version.dataset_version_id is None:
        raise Problem(
            404,
            f"Version {version.version} of {model_name!r} records no dataset version (it was uploaded "
            "without dataset_version_id), so there are no training photos to describe.",
        )
    row, dataset = dataset_versions.get_version_by_id(session, version.dataset_version_id)
    if row.photo_stats is None:
        row.photo_stats = _compute(store, bucket, row, (max_image_bytes, max_image_pixels))
        session.flush()
    summary = row.photo_stats
    return TrainingPhotos(
        model_name=model_name,
        version=version.version,
        dataset=dataset.name,
        dataset_version=row.version,
        split=summary["split"],
        items=summary["items"],
        unreadable=summary["unreadable"],
        photos=summary["photos"],
    )


def _compute(store: ObjectStore, bucket: str, row: DatasetVersion, limits: tuple[int, int]) -> dict:
    items = dataset_versions.load_manifest(store, bucket, row)["items"]
    split, picked = sample(items)
    photos = [s for s in (_stats(store, bucket, i, limits) for i in picked) if s is not None]
    pool = sum(1 for i in items if split == "all" or i.get("split") == split)
    return {"split": split, "items": pool, "unreadable": len(picked) - len(photos), "photos": photos}
