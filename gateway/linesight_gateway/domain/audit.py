"""The audit log: who changed what, when, on which object."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from linesight_core.logs import request_id_var
from linesight_gateway.db.models import AuditEvent
from linesight_gateway.domain.access import Principal


def record(
    session: Session,
    actor: Principal | None,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        actor_key_id=actor.key_id if actor else None,
        actor_name=actor.name if actor else "system",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        details=details or {},
        request_id=request_id_var.get(),
    )
    session.add(event)
    return event


def query(
    *,
    actor_key_id: uuid.UUID | None = None,
    action: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
) -> Select[tuple[AuditEvent]]:
    stmt = select(AuditEvent).order_by(AuditEvent.id.desc())
    if actor_key_id:
        stmt = stmt.where(AuditEvent.actor_key_id == actor_key_id)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    if object_type:
        stmt = stmt.where(AuditEvent.object_type == object_type)
    if object_id:
        stmt = stmt.where(AuditEvent.object_id == object_id)
    if since:
        stmt = stmt.where(AuditEvent.at >= since)
    if until:
        stmt = stmt.where(AuditEvent.at < until)
    if before_id:
        stmt = stmt.where(AuditEvent.id < before_id)
    return stmt


def list_events(session: Session, limit: int, **filters: Any) -> list[AuditEvent]:
    return list(session.scalars(query(**filters).limit(limit)))
