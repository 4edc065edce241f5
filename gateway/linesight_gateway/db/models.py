"""SQLAlchemy models of the gateway schema."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import Mapped, mapped_column

from linesight_core.db import base_for_schema

SCHEMA = "gateway"
Base = base_for_schema(SCHEMA)


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey(f"{SCHEMA}.api_keys.id", ondelete="SET NULL"), nullable=True
    )
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    bootstrap: Mapped[bool] = mapped_column(default=False)
    # The stations (ids as text) the key may act at; NULL: every station (domain/station_scope.py).
    station_ids: Mapped[list[str] | None] = mapped_column(JSONB, nullable=True, default=None)


class User(Base):
    """A person who signs in with a password; like an API key, one role and an optional station scope."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    station_ids: Mapped[list[str] | None] = mapped_column(JSONB, nullable=True, default=None)
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(String(256))  # argon2id, in its PHC string form
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the creator's name
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class UserSession(Base):
    """A signed-in session: only the sha256 of its token is stored."""

    __tablename__ = "user_sessions"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    client_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_at", "at"),
        Index("ix_audit_events_object", "object_type", "object_id"),
        Index("ix_audit_events_actor", "actor_key_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    request_id: Mapped[str | None] = mapped_column(Text, nullable=True)


class Station(Base):
    """A workstation or check point: what the photo must show, and which model judges it."""

    __tablename__ = "stations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    mode: Mapped[str] = mapped_column(String(16))
    model_name: Mapped[str] = mapped_column(String(100))
    model_alias: Mapped[str] = mapped_column(String(64), default="production")
    # Another alias of the same model that answers every live inspection in the background (shadow mode,
    # domain/shadow.py); its answers never change a verdict. None: off.
    shadow_alias: Mapped[str | None] = mapped_column(String(64), nullable=True, default=None)
    expected_items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    ok_classes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # Segment stations (domain/defect_rules.py): a rule per defect class, the camera's calibration and a
    # region of interest (a polygon normalised to the photo; None: the whole photo).
    defect_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    mm_per_pixel: Mapped[float | None] = mapped_column(nullable=True, default=None)
    roi: Mapped[list[list[float]] | None] = mapped_column(JSONB, nullable=True, default=None)
    success_threshold: Mapped[float] = mapped_column(default=0.70)
    low_confidence_threshold: Mapped[float] = mapped_column(default=0.50)
    reference_image_key: Mapped[str | None] = mapped_column(String(256), nullable=True)
    blur_faces: Mapped[bool] = mapped_column(default=False)
    blur_people: Mapped[bool] = mapped_column(default=False)
    # An unusual photo (domain/unusual.py) turns a `success` answer into `low_confidence`: check by eye.
    unusual_needs_review: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    # TrainingPolicy (api/station_schemas.py) and where the feedback loop stands (domain/dataset_sync.py)
    training: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    training_state: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Inspection(Base):
    """One photo judged (or waiting to be judged) at a station. The photo is stored before anything else,
    so an inspection whose model answer failed stays `pending` and is completed later."""

    __tablename__ = "inspections"
    __table_args__ = (
        Index("ix_inspections_station_created", "station_id", "created_at"),
        Index("ix_inspections_pending", "next_attempt_at", postgresql_where="status = 'pending'"),
        Index("ix_inspections_created", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    station_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.stations.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16))  # completed | pending
    verdict: Mapped[str | None] = mapped_column(String(8), nullable=True)
    confidence: Mapped[float | None] = mapped_column(nullable=True)
    confidence_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    missing: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    unexpected: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    predictions: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    # Segment stations: the defect rules that failed (in words too) and the defects measured.
    failed_rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    defects: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    model_name: Mapped[str] = mapped_column(String(100))
    model_alias: Mapped[str] = mapped_column(String(64))
    model_version: Mapped[int | None] = mapped_column(nullable=True)
    model_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    image_key: Mapped[str] = mapped_column(String(256))
    image_sha256: Mapped[str] = mapped_column(String(64))
    image_width: Mapped[int] = mapped_column()
    image_height: Mapped[int] = mapped_column()
    faces_blurred: Mapped[int] = mapped_column(default=0)
    people_blurred: Mapped[int] = mapped_column(default=0)
    timings_ms: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    # Photo statistics and model signals (domain/unusual.signals), the station's rolling baseline
    photo_stats: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    unusual: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # The station's shadow version's answer, written after the live answer was returned (domain/shadow.py):
    # version, verdict, counts or class, agreement with the live answer, latency, or the error.
    shadow: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Feedback(Base):
    """The operator's current judgement of an inspection's answer; every change is kept in revisions."""

    __tablename__ = "feedback"

    inspection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.inspections.id", ondelete="CASCADE"), primary_key=True
    )
    correct: Mapped[bool] = mapped_column()
    corrected_verdict: Mapped[str | None] = mapped_column(String(8), nullable=True)
    corrected_counts: Mapped[dict[str, int] | None] = mapped_column(JSONB, nullable=True)
    corrected_boxes: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB, nullable=True)
    corrected_class: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # Segment stations: every instance as it should be ({label, polygon} in photo pixels); API `instances`.
    corrected_instances: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    use_for_training: Mapped[bool] = mapped_column(default=False)
    revision: Mapped[int] = mapped_column(default=1)
    # The registry dataset item made from this feedback, and which revision it carries; a revision
    # newer than the synced one (or a sync that failed) is picked up by domain/dataset_sync.py.
    dataset_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    dataset_item_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dataset_synced_revision: Mapped[int | None] = mapped_column(nullable=True)
    dataset_sync_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    dataset_sync_attempts: Mapped[int] = mapped_column(default=0)
    dataset_next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Counted toward the station's retraining threshold: once, however often it is toggled on and off.
    training_counted: Mapped[bool] = mapped_column(default=False)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FeedbackRevision(Base):
    __tablename__ = "feedback_revisions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    inspection_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.inspections.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column()
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    by_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    by_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class LabelRead(Base):
    """One product-label photo and what the OCR service read on it; reads the OCR was not sure of wait in
    the review queue until a person approves or corrects their codes."""

    __tablename__ = "label_reads"
    __table_args__ = (
        Index("ix_label_reads_status_created", "status", "created_at"),
        Index("ix_label_reads_created", "created_at"),
        Index("ix_label_reads_reviewed", "reviewed_at"),
        Index("ix_label_reads_vendor", "vendor_id"),
        Index("ix_label_reads_station", "station_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    status: Mapped[str] = mapped_column(String(16))  # needs_review | approved | corrected
    auto_approved: Mapped[bool] = mapped_column(default=False)
    station_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.stations.id", ondelete="SET NULL"), nullable=True
    )
    station_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    context: Mapped[str] = mapped_column(Text, default="")
    vendor_hint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vendor_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    vendor_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    vendor_matched_by: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The codes as they stand now (each with its review state), and as the OCR service read them.
    codes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    ocr_codes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    review_reasons: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # Tokens are read by the export only; lists show their count.
    tokens: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, deferred=True)
    tokens_count: Mapped[int] = mapped_column(default=0)
    barcodes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    rotation: Mapped[int] = mapped_column(default=0)
    timings_ms: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)
    image_key: Mapped[str] = mapped_column(String(256))
    image_sha256: Mapped[str] = mapped_column(String(64))
    image_content_type: Mapped[str] = mapped_column(String(64))
    image_width: Mapped[int] = mapped_column()
    image_height: Mapped[int] = mapped_column()
    notes: Mapped[str] = mapped_column(Text, default="")
    revision: Mapped[int] = mapped_column(default=1)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    reviewed_by_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LabelReadChange(Base):
    """Every state a label read went through: the OCR read, its approval, each correction."""

    __tablename__ = "label_read_changes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    read_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey(f"{SCHEMA}.label_reads.id", ondelete="CASCADE"), index=True
    )
    revision: Mapped[int] = mapped_column()
    action: Mapped[str] = mapped_column(String(16))  # read | auto_approve | approve | correct
    status: Mapped[str] = mapped_column(String(16))
    codes: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    notes: Mapped[str] = mapped_column(Text, default="")
    by_key_id: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    by_name: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ReplayJob(Base):
    """A model version and the station's production version replaying the station's verified inspections
    (domain/replays.py). `items` holds each replayed inspection's two answers, so a job resumes where it
    stopped; `result` is the report once it is done."""

    __tablename__ = "replay_jobs"
    __table_args__ = (
        Index("ix_replay_jobs_version", "model_name", "model_version", "created_at"),
        Index("ix_replay_jobs_station", "station_id", "created_at"),
        Index("ix_replay_jobs_open", "created_at", postgresql_where="status IN ('queued', 'running')"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    station_id: Mapped[uuid.UUID] = mapped_column(ForeignKey(f"{SCHEMA}.stations.id", ondelete="CASCADE"))
    model_name: Mapped[str] = mapped_column(String(100))
    model_version: Mapped[int] = mapped_column()
    # The version the station serves (its model under its alias) when the job was asked for.
    baseline_name: Mapped[str] = mapped_column(String(100))
    baseline_alias: Mapped[str] = mapped_column(String(64))
    baseline_version: Mapped[int] = mapped_column()
    task: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))  # queued | running | completed | failed | cancelled
    selection: Mapped[dict[str, Any]] = mapped_column(JSONB)  # last_n, or since / until
    rules: Mapped[dict[str, Any]] = mapped_column(JSONB)  # the station's rules when the job was asked for
    inspection_ids: Mapped[list[str]] = mapped_column(JSONB)
    total: Mapped[int] = mapped_column()
    done: Mapped[int] = mapped_column(default=0)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list, deferred=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    attempts: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[uuid.UUID | None] = mapped_column(UUID(as_uuid=True), nullable=True)
    created_by_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class PromotionGate(Base):
    """Production of `model_name` moves only to a version whose latest replay at the station (or, with no
    station, at every station serving the model's production) is at least as good as production, on at
    least `min_verified` verified inspections (domain/promotion_gate.py)."""

    __tablename__ = "promotion_gates"
    __table_args__ = (
        Index(
            "uq_promotion_gates_station",
            "model_name",
            "station_id",
            unique=True,
            postgresql_where="station_id IS NOT NULL",
        ),
        Index("uq_promotion_gates_model", "model_name", unique=True, postgresql_where="station_id IS NULL"),
    )

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True, default=uuid.uuid4)
    model_name: Mapped[str] = mapped_column(String(100))
    station_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey(f"{SCHEMA}.stations.id", ondelete="CASCADE"), nullable=True
    )
    min_verified: Mapped[int] = mapped_column()
    created_by_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
