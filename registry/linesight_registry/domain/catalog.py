"""Models, their numbered versions and the aliases that point at them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from linesight_core.contracts.registry import (
    AliasEventOut,
    AliasOut,
    ModelOut,
    ModelPromoted,
    ModelVersionOut,
)
from linesight_core.errors import NotFound, Problem
from linesight_core.pagination import paginate
from linesight_registry import metrics
from linesight_registry.db.models import Alias, AliasEvent, Model, ModelVersion
from linesight_registry.domain.onnx_artifact import ArtifactInfo

PROTECTED_ALIASES = ("production", "staging")


def get_model(session: Session, name: str, *, lock: bool = False) -> Model:
    stmt = select(Model).where(Model.name == name)
    if lock:
        stmt = stmt.with_for_update()
    model = session.scalar(stmt)
    if model is None:
        raise NotFound("model", name, by="name")
    return model


def create_model(session: Session, name: str, task: str, description: str) -> Model:
    if session.scalar(select(Model.id).where(Model.name == name)) is not None:
        raise Problem(409, f"A model named {name!r} exists already.")
    model = Model(name=name, task=task, description=description)
    session.add(model)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise Problem(409, f"A model named {name!r} exists already.") from None
    return model


def alias_map(session: Session, model_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, dict[str, int]]:
    rows = session.execute(
        select(Alias.model_id, Alias.name, ModelVersion.version)
        .join(ModelVersion, ModelVersion.id == Alias.version_id)
        .where(Alias.model_id.in_(model_ids))
    )
    out: dict[uuid.UUID, dict[str, int]] = {mid: {} for mid in model_ids}
    for model_id, name, version in rows:
        out[model_id][name] = version
    return out


def model_out(session: Session, models: Sequence[Model]) -> list[ModelOut]:
    ids = [m.id for m in models]
    latest = dict(
        session.execute(
            select(ModelVersion.model_id, func.max(ModelVersion.version))
            .where(ModelVersion.model_id.in_(ids))
            .group_by(ModelVersion.model_id)
        ).all()
    )
    aliases = alias_map(session, ids)
    return [
        ModelOut(
            id=m.id,
            name=m.name,
            task=m.task,
            description=m.description,
            created_at=m.created_at,  # type: ignore[arg-type]
            latest_version=latest.get(m.id),
            aliases=aliases.get(m.id, {}),
            promotion_gated=m.promotion_gated,
        )
        for m in models
    ]


def list_models(
    session: Session, *, task: str | None, q: str | None, limit: int, offset: int
) -> tuple[list[Model], int]:
    stmt = select(Model)
    if task:
        stmt = stmt.where(Model.task == task)
    if q:
        stmt = stmt.where(Model.name.contains(q, autoescape=True))
    return paginate(session, stmt, Model.name, limit=limit, offset=offset)


def version_out(version: ModelVersion, model_name: str, bucket: str, aliases: list[str]) -> ModelVersionOut:
    return ModelVersionOut(
        id=version.id,
        model_name=model_name,
        version=version.version,
        sha256=version.sha256,
        artifact_bucket=bucket,
        artifact_key=version.artifact_key,
        size_bytes=version.size_bytes,
        task=version.task,  # type: ignore[arg-type]
        imgsz=version.imgsz,
        class_names=version.class_names,
        stride=version.stride,
        dynamic_batch=version.dynamic_batch,
        metrics=version.metrics,
        params=version.params,
        dataset_version_id=version.dataset_version_id,
        training_run_id=version.training_run_id,
        created_by=version.created_by,
        notes=version.notes,
        status=version.status,  # type: ignore[arg-type]
        created_at=version.created_at,
        aliases=aliases,
    )


def aliases_of_versions(session: Session, model_id: uuid.UUID) -> dict[uuid.UUID, list[str]]:
    out: dict[uuid.UUID, list[str]] = {}
    for alias in session.scalars(select(Alias).where(Alias.model_id == model_id).order_by(Alias.name)):
        out.setdefault(alias.version_id, []).append(alias.name)
    return out


def find_version_by_sha(session: Session, model: Model, sha256: str) -> ModelVersion | None:
    return session.scalar(
        select(ModelVersion).where(ModelVersion.model_id == model.id, ModelVersion.sha256 == sha256)
    )


def add_version(
    session: Session,
    model: Model,
    info: ArtifactInfo,
    *,
    sha256: str,
    artifact_key: str,
    size_bytes: int,
    metrics: dict[str, Any],
    params: dict[str, Any],
    dataset_version_id: uuid.UUID | None,
    training_run_id: uuid.UUID | None,
    created_by: str,
    notes: str,
) -> ModelVersion:
    """Number the new version under a lock on the model row, so concurrent uploads get 1, 2, 3…"""
    if info.task != model.task:
        raise Problem(422, f"Model {model.name!r} is a {model.task} model; the file is a {info.task} model.")
    locked = get_model(session, model.name, lock=True)
    number = (
        session.scalar(select(func.max(ModelVersion.version)).where(ModelVersion.model_id == locked.id)) or 0
    ) + 1
    version = ModelVersion(
        model_id=locked.id,
        version=number,
        sha256=sha256,
        artifact_key=artifact_key,
        size_bytes=size_bytes,
        task=info.task,
        imgsz=info.imgsz,
        class_names=info.class_names,
        stride=info.stride,
        dynamic_batch=info.dynamic_batch,
        metrics=metrics,
        params=params,
        dataset_version_id=dataset_version_id,
        training_run_id=training_run_id,
        created_by=created_by,
        notes=notes,
        status="ready",
    )
    session.add(version)
    session.flush()
    return version


def get_version(session: Session, model: Model, number: int) -> ModelVersion:
    version = session.scalar(
        select(ModelVersion).where(ModelVersion.model_id == model.id, ModelVersion.version == number)
    )
    if version is None:
        raise Problem(404, f"Model {model.name!r} has no version {number}.")
    return version


def list_versions(
    session: Session, model: Model, *, status: str | None, limit: int, offset: int
) -> tuple[list[ModelVersion], int]:
    stmt = select(ModelVersion).where(ModelVersion.model_id == model.id)
    if status:
        stmt = stmt.where(ModelVersion.status == status)
    return paginate(session, stmt, ModelVersion.version.desc(), limit=limit, offset=offset)


def resolve_alias(session: Session, model: Model, alias: str) -> tuple[Alias, ModelVersion]:
    row = session.execute(
        select(Alias, ModelVersion)
        .join(ModelVersion, ModelVersion.id == Alias.version_id)
        .where(Alias.model_id == model.id, Alias.name == alias)
    ).first()
    if row is None:
        raise Problem(
            404, f"Model {model.name!r} has no {alias!r} version yet; move the alias to a version first."
        )
    return row[0], row[1]


def alias_out(model: Model, alias: Alias, version: ModelVersion) -> AliasOut:
    return AliasOut(
        model_name=model.name,
        alias=alias.name,
        version=version.version,
        sha256=version.sha256,
        updated_at=alias.updated_at,
        updated_by=alias.updated_by,
    )


def move_alias(
    session: Session,
    model: Model,
    alias_name: str,
    number: int,
    *,
    moved_by: str,
    reason: str,
    publish: Callable[[ModelPromoted], None],
) -> tuple[Alias, ModelVersion, int | None]:
    """Point an alias at a version, record the move, and announce it once the move is committed."""
    locked = get_model(session, model.name, lock=True)
    version = get_version(session, locked, number)
    if version.status != "ready":
        raise Problem(
            409, f"Version {number} of {model.name!r} is {version.status}; only ready versions get aliases."
        )
    alias = session.scalar(select(Alias).where(Alias.model_id == locked.id, Alias.name == alias_name))
    previous: int | None = None
    now = datetime.now(UTC)
    if alias is None:
        alias = Alias(
            model_id=locked.id, name=alias_name, version_id=version.id, updated_by=moved_by, updated_at=now
        )
        session.add(alias)
    else:
        previous = session.scalar(select(ModelVersion.version).where(ModelVersion.id == alias.version_id))
        alias.version_id = version.id
        alias.updated_by = moved_by
        alias.updated_at = now
    session.add(
        AliasEvent(
            model_id=locked.id,
            alias=alias_name,
            from_version=previous,
            to_version=number,
            moved_by=moved_by,
            reason=reason,
            at=now,
        )
    )
    session.commit()
    metrics.ALIAS_MOVES.labels(model.name, alias_name).inc()
    publish(
        ModelPromoted(
            model_name=model.name,
            alias=alias_name,
            version=number,
            from_version=previous,
            sha256=version.sha256,
            at=now,
        )
    )
    return alias, version, previous


def delete_alias(
    session: Session,
    model: Model,
    alias_name: str,
    *,
    moved_by: str,
    reason: str,
    publish: Callable[[ModelPromoted], None],
) -> int:
    locked = get_model(session, model.name, lock=True)
    alias, version = resolve_alias(session, locked, alias_name)
    if alias_name in PROTECTED_ALIASES:
        raise Problem(409, f"The {alias_name!r} alias can be moved but not removed.")
    session.delete(alias)
    now = datetime.now(UTC)
    session.add(
        AliasEvent(
            model_id=locked.id,
            alias=alias_name,
            from_version=version.version,
            to_version=None,
            moved_by=moved_by,
            reason=reason,
            at=now,
        )
    )
    session.commit()
    publish(
        ModelPromoted(
            model_name=model.name,
            alias=alias_name,
            version=None,
            from_version=version.version,
            sha256=None,
            at=now,
        )
    )
    return version.version


def alias_history(
    session: Session, model: Model, alias: str | None, *, limit: int, offset: int
) -> tuple[list[AliasEventOut], int]:
    stmt = select(AliasEvent).where(AliasEvent.model_id == model.id)
    if alias:
        stmt = stmt.where(AliasEvent.alias == alias)
    events, total = paginate(session, stmt, AliasEvent.id.desc(), limit=limit, offset=offset)
    return [
        AliasEventOut(
            id=e.id,
            model_name=model.name,
            alias=e.alias,
            from_version=e.from_version,
            to_version=e.to_version,
            moved_by=e.moved_by,
            reason=e.reason,
            at=e.at,
        )
        for e in events
    ], total
