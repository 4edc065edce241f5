"""Datasets and their items: create and list datasets, add images (one item per image hash, labels
replaced on a second add), list and change items, import checked archives, and the stats."""

from __future__ import annotations

import io
import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import cast, func, literal_column, or_, select, text
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linesight_core.contracts.datasets import (
    SPLITS,
    DatasetCreate,
    DatasetItemOut,
    DatasetOut,
    DatasetStats,
    DatasetUpdate,
    ImportReport,
)
from linesight_core.errors import NotFound, Problem
from linesight_core.pagination import paginate
from linesight_core.storage import ObjectStore
from linesight_registry import metrics
from linesight_registry.db.models import SCHEMA, Dataset, DatasetItem, DatasetVersion
from linesight_registry.domain.archives import ArchiveLimits, ParsedArchive, iter_members
from linesight_registry.domain.labels import CONTENT_TYPES, EXTENSIONS, image_key, is_labelled, split_for

SOURCES = ("upload", "feedback", "import")


def get_dataset(session: Session, name: str, *, lock: bool = False) -> Dataset:
    stmt = select(Dataset).where(Dataset.name == name)
    if lock:
        stmt = stmt.with_for_update()
    dataset = session.scalar(stmt)
    if dataset is None:
        raise NotFound("dataset", name, by="name")
    return dataset


def create_dataset(session: Session, body: DatasetCreate) -> Dataset:
    exists = f"A dataset named {body.name!r} exists already."
    if session.scalar(select(Dataset.id).where(Dataset.name == body.name)) is not None:
        raise Problem(409, exists)
    dataset = Dataset(
        name=body.name,
        task=body.task,
        class_names=list(body.class_names),
        description=body.description,
        station=body.station,
    )
    session.add(dataset)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Problem(409, exists) from None
    return dataset


def update_dataset(session: Session, name: str, body: DatasetUpdate) -> Dataset:
    dataset = get_dataset(session, name, lock=True)
    if body.description is not None:
        dataset.description = body.description
    if "station" in body.model_fields_set:
        dataset.station = body.station
    if body.add_classes:
        known = [c for c in body.add_classes if c in dataset.class_names]
        if known:
            raise Problem(409, f"Dataset {name!r} has these classes already: {', '.join(known)}.")
        # Only appended: a stored class id keeps naming the same class in every version.
        dataset.class_names = [*dataset.class_names, *body.add_classes]
    session.flush()
    return dataset


def list_datasets(
    session: Session, *, task: str | None, station: str | None, q: str | None, limit: int, offset: int
) -> tuple[list[Dataset], int]:
    stmt = select(Dataset)
    if task:
        stmt = stmt.where(Dataset.task == task)
    if station:
        stmt = stmt.where(Dataset.station == station)
    if q:
        stmt = stmt.where(Dataset.name.contains(q, autoescape=True))
    return paginate(session, stmt, Dataset.name, limit=limit, offset=offset)


def dataset_out(session: Session, datasets: Sequence[Dataset]) -> list[DatasetOut]:
    ids = [d.id for d in datasets]
    counts = dict(
        session.execute(
            select(DatasetItem.dataset_id, func.count())
            .where(DatasetItem.dataset_id.in_(ids))
            .group_by(DatasetItem.dataset_id)
        ).all()
    )
    latest = dict(
        session.execute(
            select(DatasetVersion.dataset_id, func.max(DatasetVersion.version))
            .where(DatasetVersion.dataset_id.in_(ids))
            .group_by(DatasetVersion.dataset_id)
        ).all()
    )
    return [
        DatasetOut(
            id=d.id,
            name=d.name,
            task=d.task,  # type: ignore[arg-type]
            class_names=d.class_names,
            description=d.description,
            station=d.station,
            created_at=d.created_at,
            item_count=counts.get(d.id, 0),
            latest_version=latest.get(d.id),
        )
        for d in datasets
    ]


# --- items ------------------------------------------------------------------------------------------


def store_image(store: ObjectStore, bucket: str, sha256: str, fmt: str, data: bytes) -> str:
    """Content-addressed, so the same photo in many datasets (or added twice) is stored once."""
    stored = store.put_content_addressed(
        bucket,
        f"images/{sha256[:2]}",
        io.BytesIO(data),
        content_type=CONTENT_TYPES.get(fmt, "application/octet-stream"),
        suffix=EXTENSIONS.get(fmt, ".img"),
    )
    assert stored.sha256 == sha256 and stored.key == image_key(sha256, fmt)
    return stored.key


def upsert_item(
    session: Session,
    dataset: Dataset,
    *,
    sha256: str,
    key: str,
    size_bytes: int,
    width: int,
    height: int,
    labels: Any,
    source: str,
    origin: str,
) -> tuple[DatasetItem, bool]:
    """Add the image, or replace the labels of the item that holds it already. One statement, so two
    concurrent adds of the same photo end as one item. Returns (item, created)."""
    stmt = insert(DatasetItem).values(
        id=uuid.uuid4(),
        dataset_id=dataset.id,
        sha256=sha256,
        image_key=key,
        size_bytes=size_bytes,
        width=width,
        height=height,
        labels=labels,
        split=split_for(sha256),
        source=source,
        origin=origin,
    )
    upsert: Any = stmt.on_conflict_do_update(
        index_elements=[DatasetItem.dataset_id, DatasetItem.sha256],
        set_={"labels": stmt.excluded.labels, "updated_at": func.now()},
    ).returning(DatasetItem.id, literal_column("xmax = 0"))  # xmax is 0 on a row just inserted
    item_id, created = session.execute(upsert).one()
    item = session.get(DatasetItem, item_id, populate_existing=True)
    assert item is not None
    if created:
        metrics.DATASET_ITEMS.labels(dataset.name, source).inc()
    return item, bool(created)


def item_out(item: DatasetItem, dataset_name: str) -> DatasetItemOut:
    return DatasetItemOut(
        id=item.id,
        dataset=dataset_name,
        sha256=item.sha256,
        image_key=item.image_key,
        width=item.width,
        height=item.height,
        size_bytes=item.size_bytes,
        labels=item.labels,
        labelled=is_labelled(item.labels),
        split=item.split,  # type: ignore[arg-type]
        source=item.source,  # type: ignore[arg-type]
        origin=item.origin,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


def _unlabelled() -> Any:
    return or_(DatasetItem.labels.is_(None), DatasetItem.labels == cast(literal_column("'[]'"), JSONB))


def list_items(
    session: Session,
    dataset: Dataset,
    *,
    split: str | None,
    source: str | None,
    labelled: bool | None,
    limit: int,
    offset: int,
) -> tuple[list[DatasetItem], int]:
    stmt = select(DatasetItem).where(DatasetItem.dataset_id == dataset.id)
    if split:
        stmt = stmt.where(DatasetItem.split == split)
    if source:
        stmt = stmt.where(DatasetItem.source == source)
    if labelled is not None:
        stmt = stmt.where(~_unlabelled() if labelled else _unlabelled())
    return paginate(session, stmt, DatasetItem.created_at, DatasetItem.sha256, limit=limit, offset=offset)


def get_item(session: Session, dataset: Dataset, item_id: uuid.UUID) -> DatasetItem:
    item = session.scalar(
        select(DatasetItem).where(DatasetItem.dataset_id == dataset.id, DatasetItem.id == item_id)
    )
    if item is None:
        raise Problem(404, f"Dataset {dataset.name!r} has no item {item_id}.")
    return item


def set_labels(session: Session, item: DatasetItem, labels: Any) -> DatasetItem:
    item.labels = labels
    item.updated_at = func.now()
    session.flush()
    session.refresh(item)
    return item


def import_items(
    session: Session,
    store: ObjectStore,
    bucket: str,
    dataset: Dataset,
    parsed: ParsedArchive,
    *,
    path: str,
    limits: ArchiveLimits,
    fmt: str,
    origin: str,
) -> ImportReport:
    """Store a checked archive: new images first, then the rows, so no row names a missing image."""
    locked = get_dataset(session, dataset.name, lock=True)
    shas = [i.sha256 for i in parsed.items]
    existing: dict[str, Any] = {}
    for start in range(0, len(shas), 1000):
        rows = session.execute(
            select(DatasetItem.sha256, DatasetItem.labels).where(
                DatasetItem.dataset_id == locked.id, DatasetItem.sha256.in_(shas[start : start + 1000])
            )
        )
        existing.update(dict(rows.all()))
    new = [i for i in parsed.items if i.sha256 not in existing]
    changed = [i for i in parsed.items if i.sha256 in existing and existing[i.sha256] != i.labels]
    for item, data in iter_members(path, new, limits):
        store_image(store, bucket, item.sha256, item.fmt, data)
    for item in [*new, *changed]:
        upsert_item(
            session,
            locked,
            sha256=item.sha256,
            key=image_key(item.sha256, item.fmt),
            size_bytes=item.size_bytes,
            width=item.width,
            height=item.height,
            labels=item.labels,
            source="import",
            origin=f"{origin}:{item.member}"[:1000],
        )
    return ImportReport(
        dataset=locked.name,
        format=fmt,  # type: ignore[arg-type]
        images=parsed.images,
        added=len(new),
        replaced=len(changed),
        skipped=len(parsed.items) - len(new) - len(changed) + parsed.skipped,
        warnings=parsed.warnings[:100],
    )


# --- stats ------------------------------------------------------------------------------------------


def stats(session: Session, dataset: Dataset) -> DatasetStats:
    where = DatasetItem.dataset_id == dataset.id
    per_split = dict.fromkeys(SPLITS, 0)
    per_split.update(
        session.execute(
            select(DatasetItem.split, func.count()).where(where).group_by(DatasetItem.split)
        ).all()
    )
    per_source = dict.fromkeys(SOURCES, 0)
    per_source.update(
        session.execute(
            select(DatasetItem.source, func.count()).where(where).group_by(DatasetItem.source)
        ).all()
    )
    if dataset.task in ("detect", "segment"):
        sql = (
            f"SELECT (e.value->>'class_id')::int, count(*) FROM {SCHEMA}.dataset_items i "
            "CROSS JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(i.labels) = 'array' "
            "THEN i.labels ELSE '[]'::jsonb END) e WHERE i.dataset_id = :id GROUP BY 1"
        )
    else:
        sql = (
            f"SELECT (labels->>'class_id')::int, count(*) FROM {SCHEMA}.dataset_items "
            "WHERE dataset_id = :id AND labels IS NOT NULL GROUP BY 1"
        )
    by_id = {int(k): int(n) for k, n in session.execute(text(sql), {"id": dataset.id}).all()}
    areas = _mask_areas(session, dataset) if dataset.task == "segment" else None
    return DatasetStats(
        dataset=dataset.name,
        task=dataset.task,  # type: ignore[arg-type]
        items=sum(per_split.values()),
        images_per_split=per_split,
        instances_per_class={name: by_id.get(i, 0) for i, name in enumerate(dataset.class_names)},
        images_without_labels=session.scalar(
            select(func.count()).select_from(DatasetItem).where(where, _unlabelled())
        )
        or 0,
        images_per_source=per_source,
        **(areas or {}),
    )


# Each polygon's area by the shoelace formula, in the database: points in order, the last joined to the
# first, scaled to its image's pixels.
_POLYGON_AREAS = f"""
WITH points AS (
    SELECT i.id AS item, e.n AS instance, (e.value->>'class_id')::int AS class_id,
           i.width * i.height AS pixels, (p.value->>0)::float8 AS x, (p.value->>1)::float8 AS y, p.n AS k
    FROM {SCHEMA}.dataset_items i
    CROSS JOIN LATERAL jsonb_array_elements(
        CASE WHEN jsonb_typeof(i.labels) = 'array' THEN i.labels ELSE '[]'::jsonb END
    ) WITH ORDINALITY e(value, n)
    CROSS JOIN LATERAL jsonb_array_elements(e.value->'polygon') WITH ORDINALITY p(value, n)
    WHERE i.dataset_id = :id
), terms AS (
    SELECT item, instance, class_id, pixels,
           x * coalesce(lead(y) OVER w, first_value(y) OVER w)
           - y * coalesce(lead(x) OVER w, first_value(x) OVER w) AS term
    FROM points
    WINDOW w AS (PARTITION BY item, instance ORDER BY k)
), shapes AS (
    SELECT class_id, pixels, abs(sum(term)) / 2 AS share FROM terms GROUP BY item, instance, class_id, pixels
)
SELECT class_id, sum(share * pixels), avg(share) FROM shapes GROUP BY class_id
"""


def _mask_areas(session: Session, dataset: Dataset) -> dict[str, dict[str, Any]]:
    rows = {
        int(c): (float(px), float(share))
        for c, px, share in session.execute(text(_POLYGON_AREAS), {"id": dataset.id})
    }
    names = dataset.class_names
    return {
        "mask_area_px_per_class": {n: round(rows.get(i, (0.0, 0.0))[0], 1) for i, n in enumerate(names)},
        "mask_share_per_class": {n: round(rows[i][1], 6) if i in rows else None for i, n in enumerate(names)},
    }
