"""The audit log, for admins."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Query

from linesight_gateway.api.audit_schemas import AuditEventOut, AuditPage
from linesight_gateway.api.deps import Admin, SessionDep
from linesight_gateway.domain import audit

router = APIRouter(prefix="/api/v1", tags=["audit"])


@router.get("/audit", response_model=AuditPage, summary="Audit events, newest first")
def list_audit(
    principal: Admin,
    session: SessionDep,
    actor_key_id: uuid.UUID | None = None,
    action: str | None = Query(None, max_length=64, examples=["api_key.create"]),
    object_type: str | None = Query(None, max_length=64, examples=["api_key"]),
    object_id: str | None = Query(None, max_length=128),
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = Query(50, ge=1, le=500),
    cursor: int | None = Query(None, ge=1, le=2**63 - 1, description="next_cursor of the previous page"),
) -> AuditPage:
    events = audit.list_events(
        session,
        limit + 1,
        actor_key_id=actor_key_id,
        action=action,
        object_type=object_type,
        object_id=object_id,
        since=since,
        until=until,
        before_id=cursor,
    )
    more = len(events) > limit
    events = events[:limit]
    return AuditPage(
        items=[AuditEventOut.model_validate(e) for e in events],
        next_cursor=events[-1].id if more and events else None,
    )
