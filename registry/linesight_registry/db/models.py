"""SQLAlchemy models of the registry schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column, relationship

from linesight_core.db import base_for_schema

SCHEMA = "registry"
Base = base_for_schema(SCHEMA)


class Model(Base):
    __tablename__ = "models"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    task: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    # Set by the gateway while a promotion gate guards the model's production alias: a training run's
    # auto-promotion then stages only, and the gateway promotes once the version's replay passes.
    promotion_gated: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    versions: Mapped[list[ModelVersion]] = relationship(
        back_populates="model", order_by="ModelVersion.version"
    )


class ModelVersion(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("model_id", "version"),
        UniqueConstraint("model_id", "sha256"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.models.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    artifact_key: Mapped[str] = mapped_column(String(256))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    task: Mapped[str] = mapped_column(String(16))
    imgsz: Mapped[list[int]] = mapped_column(JSONB)
    class_names: Mapped[dict[str, str]] = mapped_column(JSONB)
    stride: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dynamic_batch: Mapped[bool] = mapped_column(default=False)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    dataset_version_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    training_run_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="ready")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    model: Mapped[Model] = relationship(back_populates="versions")


class Alias(Base):
    __tablename__ = "aliases"
    __table_args__ = (UniqueConstraint("model_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.models.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    version_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.model_versions.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class AliasEvent(Base):
    """Every move of an alias: a rollback is a move back, so the history is the whole story."""

    __tablename__ = "alias_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    model_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.models.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    to_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    moved_by: Mapped[str] = mapped_column(String(100), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TrainingRun(Base):
    """One training or conversion job: its parameters, where it stands, and what it produced."""

    __tablename__ = "training_runs"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued")
    task: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str] = mapped_column(String(100))
    dataset: Mapped[str | None] = mapped_column(String(100), nullable=True)
    dataset_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # No foreign key: the dataset tables belong to another migration and versions are immutable.
    dataset_version_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    architecture: Mapped[str | None] = mapped_column(String(64), nullable=True)
    base_model: Mapped[str | None] = mapped_column(String(100), nullable=True)
    base_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    base_weights_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    source_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    source_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    epochs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    imgsz: Mapped[int | None] = mapped_column(Integer, nullable=True)
    batch: Mapped[int | None] = mapped_column(Integer, nullable=True)
    seed: Mapped[int | None] = mapped_column(Integer, nullable=True)
    patience: Mapped[int | None] = mapped_column(Integer, nullable=True)
    time_limit_seconds: Mapped[int] = mapped_column(Integer)
    selection_metric: Mapped[str] = mapped_column(String(64))
    auto_promote: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str] = mapped_column(Text, default="")
    progress: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    epochs_done: Mapped[int] = mapped_column(Integer, default=0)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    error: Mapped[str] = mapped_column(Text, default="")
    evaluation: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    model_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    staged: Mapped[bool] = mapped_column(default=False)
    promoted: Mapped[bool] = mapped_column(default=False)
    decision: Mapped[str] = mapped_column(Text, default="")
    artifacts: Mapped[dict[str, str]] = mapped_column(JSONB, default=dict)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The current attempt's start: the time limit counts from here, like Celery's does.
    attempt_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class TrainingEpoch(Base):
    """One epoch of one attempt of a run, as the worker reported it."""

    __tablename__ = "training_epochs"

    run_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.training_runs.id", ondelete="CASCADE"), primary_key=True
    )
    attempt: Mapped[int] = mapped_column(Integer, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    epochs: Mapped[int] = mapped_column(Integer)
    losses: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    elapsed_s: Mapped[float] = mapped_column(Float)
    eta_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Dataset(Base):
    """Images with labels for one task; `class_names` only grows, so a stored class id keeps its meaning."""

    __tablename__ = "datasets"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    task: Mapped[str] = mapped_column(String(16))
    class_names: Mapped[list[str]] = mapped_column(JSONB)
    description: Mapped[str] = mapped_column(Text, default="")
    station: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class DatasetItem(Base):
    """One image of a dataset (one row per dataset and image sha256); the split comes from the hash."""

    __tablename__ = "dataset_items"
    __table_args__ = (
        UniqueConstraint("dataset_id", "sha256"),
        Index("ix_dataset_items_dataset_split", "dataset_id", "split"),
        Index("ix_dataset_items_dataset_created", "dataset_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.datasets.id", ondelete="CASCADE"))
    sha256: Mapped[str] = mapped_column(String(64))
    image_key: Mapped[str] = mapped_column(String(256))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    # detect: a list of {class_id, cx, cy, w, h} ([] = background); classify: {class_id} or NULL.
    labels: Mapped[Any] = mapped_column(JSONB(none_as_null=True), nullable=True)
    split: Mapped[str] = mapped_column(String(8))
    source: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DatasetVersion(Base):
    """An immutable snapshot: the manifest in object storage is the content, this row its summary."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.datasets.id"))
    version: Mapped[int] = mapped_column(Integer)
    task: Mapped[str] = mapped_column(String(16))
    class_names: Mapped[list[str]] = mapped_column(JSONB)
    manifest_key: Mapped[str] = mapped_column(String(256))
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    item_count: Mapped[int] = mapped_column(Integer)
    split_counts: Mapped[dict[str, int]] = mapped_column(JSONB)
    class_counts: Mapped[dict[str, int]] = mapped_column(JSONB)
    unlabelled: Mapped[int] = mapped_column(Integer, default=0)
    # {"against": n | null, "added": [sha...], "removed": [...], "relabelled": [...]}
    diff: Mapped[dict[str, Any]] = mapped_column(JSONB)
    notes: Mapped[str] = mapped_column(Text, default="")
    # {"split", "items", "photos": [photo statistics]} of a sample of the train split, made on first ask
    photo_stats: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
