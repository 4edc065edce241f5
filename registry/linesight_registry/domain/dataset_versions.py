"""Dataset versions: immutable, numbered snapshots. The manifest (every item with its image sha256,
split and labels) is written once to object storage; the row keeps its key, its sha256, the counts and
the diff against the previous version."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from linesight_core.contracts.datasets import SPLITS, DatasetVersionOut, DiffSummary, VersionDiff
from linesight_core.errors import NotFound, Problem
from linesight_core.pagination import paginate
from linesight_core.storage import ObjectNotFound, ObjectStore
from linesight_registry import metrics
from linesight_registry.db.models import Dataset, DatasetItem, DatasetVersion
from linesight_registry.domain.datasets import get_dataset


def manifest_key(dataset: str, version: int) -> str:
    return f"manifests/{dataset}/{version}.json"


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """Canonical JSON (sorted keys, no spaces): the same content always hashes the same."""
    return json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def manifest_raw(store: ObjectStore, bucket: str, row: DatasetVersion) -> bytes:
    """The manifest as written, refused if it is not the document the version row recorded."""
    try:
        data = store.get_bytes(bucket, row.manifest_key)
    except ObjectNotFound:
        raise Problem(500, f"The manifest of version {row.version} is missing from object storage.") from None
    if hashlib.sha256(data).hexdigest() != row.manifest_sha256:
        raise Problem(500, f"The manifest of version {row.version} does not match its recorded sha256.")
    return data


def load_manifest(store: ObjectStore, bucket: str, row: DatasetVersion) -> dict[str, Any]:
    return json.loads(manifest_raw(store, bucket, row))


def compare(old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, list[str]]:
    before = {i["sha256"]: i["labels"] for i in (old or {}).get("items", [])}
    after = {i["sha256"]: i["labels"] for i in new["items"]}
    return {
        "added": sorted(after.keys() - before.keys()),
        "removed": sorted(before.keys() - after.keys()),
        "relabelled": sorted(s for s in after.keys() & before.keys() if after[s] != before[s]),
    }


def _counts(task: str, class_names: list[str], items: list[dict[str, Any]]) -> tuple[dict, dict, int]:
    splits = dict.fromkeys(SPLITS, 0)
    classes = dict.fromkeys(class_names, 0)
    unlabelled = 0
    for item in items:
        splits[item["split"]] += 1
        labels = item["labels"]
        if not labels:
            unlabelled += 1
        elif task in ("detect", "segment"):
            for b in labels:
                classes[class_names[b["class_id"]]] += 1
        else:
            classes[class_names[labels["class_id"]]] += 1
    return splits, classes, unlabelled


def create_version(
    session: Session, store: ObjectStore, bucket: str, name: str, *, notes: str, created_by: str
) -> DatasetVersion:
    """Numbered under a lock on the dataset row: concurrent requests get 1, 2, 3… and each sees all
    items committed before it."""
    dataset = get_dataset(session, name, lock=True)
    rows = session.execute(
        select(
            DatasetItem.sha256,
            DatasetItem.image_key,
            DatasetItem.split,
            DatasetItem.labels,
            DatasetItem.width,
            DatasetItem.height,
            DatasetItem.source,
        )
        .where(DatasetItem.dataset_id == dataset.id)
        .order_by(DatasetItem.sha256)
    ).all()
    if not rows:
        raise Problem(422, f"Dataset {name!r} has no items; add images before making a version.")
    latest = session.scalar(
        select(DatasetVersion)
        .where(DatasetVersion.dataset_id == dataset.id)
        .order_by(DatasetVersion.version.desc())
        .limit(1)
    )
    number = (latest.version if latest else 0) + 1
    items = [dict(r._mapping) for r in rows]
    manifest: dict[str, Any] = {
        "dataset": dataset.name,
        "version": number,
        "task": dataset.task,
        "class_names": list(dataset.class_names),
        "items": items,
    }
    previous = load_manifest(store, bucket, latest) if latest else None
    diff = compare(previous, manifest)
    if previous is not None and not any(diff.values()) and previous["class_names"] == manifest["class_names"]:
        raise Problem(409, f"Nothing changed since version {previous['version']} of dataset {name!r}.")
    body = manifest_bytes(manifest)
    key = manifest_key(dataset.name, number)
    store.put_bytes(bucket, key, body, content_type="application/json")
    splits, classes, unlabelled = _counts(dataset.task, dataset.class_names, items)
    version = DatasetVersion(
        dataset_id=dataset.id,
        version=number,
        task=dataset.task,
        class_names=list(dataset.class_names),
        manifest_key=key,
        manifest_sha256=hashlib.sha256(body).hexdigest(),
        item_count=len(rows),
        split_counts=splits,
        class_counts=classes,
        unlabelled=unlabelled,
        diff={"against": latest.version if latest else None, **diff},
        notes=notes,
        created_by=created_by,
    )
    session.add(version)
    session.flush()
    metrics.DATASET_VERSIONS.labels(dataset.name).inc()
    return version


def version_out(row: DatasetVersion, dataset_name: str, bucket: str) -> DatasetVersionOut:
    d = row.diff
    return DatasetVersionOut(
        id=row.id,
        dataset=dataset_name,
        version=row.version,
        task=row.task,  # type: ignore[arg-type]
        class_names=row.class_names,
        manifest_bucket=bucket,
        manifest_key=row.manifest_key,
        manifest_sha256=row.manifest_sha256,
        item_count=row.item_count,
        split_counts=row.split_counts,
        class_counts=row.class_counts,
        unlabelled=row.unlabelled,
        diff=DiffSummary(
            against=d.get("against"),
            added=len(d.get("added", [])),
            removed=len(d.get("removed", [])),
            relabelled=len(d.get("relabelled", [])),
        ),
        notes=row.notes,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def get_version(session: Session, dataset: Dataset, number: int) -> DatasetVersion:
    row = session.scalar(
        select(DatasetVersion).where(
            DatasetVersion.dataset_id == dataset.id, DatasetVersion.version == number
        )
    )
    if row is None:
        raise Problem(404, f"Dataset {dataset.name!r} has no version {number}.")
    return row


def get_version_by_id(session: Session, version_id: uuid.UUID) -> tuple[DatasetVersion, Dataset]:
    row = session.execute(
        select(DatasetVersion, Dataset)
        .join(Dataset, Dataset.id == DatasetVersion.dataset_id)
        .where(DatasetVersion.id == version_id)
    ).first()
    if row is None:
        raise NotFound("dataset version", version_id)
    return row[0], row[1]


def list_versions(
    session: Session, dataset: Dataset, *, limit: int, offset: int
) -> tuple[list[DatasetVersion], int]:
    stmt = select(DatasetVersion).where(DatasetVersion.dataset_id == dataset.id)
    return paginate(session, stmt, DatasetVersion.version.desc(), limit=limit, offset=offset)


def version_diff(
    session: Session,
    store: ObjectStore,
    bucket: str,
    dataset: Dataset,
    row: DatasetVersion,
    against: int | None,
) -> VersionDiff:
    """Against the previous version by default (recorded when the version was made), or any other."""
    if against is None or against == row.diff.get("against"):
        lists = {k: row.diff.get(k, []) for k in ("added", "removed", "relabelled")}
        against = row.diff.get("against")
    else:
        other = get_version(session, dataset, against)
        lists = compare(load_manifest(store, bucket, other), load_manifest(store, bucket, row))
    return VersionDiff(
        dataset=dataset.name,
        version=row.version,
        against=against,
        **lists,
        added_count=len(lists["added"]),
        removed_count=len(lists["removed"]),
        relabelled_count=len(lists["relabelled"]),
    )
