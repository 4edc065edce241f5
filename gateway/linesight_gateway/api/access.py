"""API keys (admin) and who-am-I (any key or signed-in person)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy import select

from linesight_core.errors import NotFound, Problem
from linesight_gateway.api.access_schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyOut, WhoAmI
from linesight_gateway.api.deps import Admin, KeyCacheDep, SessionDep, Viewer
from linesight_gateway.db.models import ApiKey
from linesight_gateway.domain import audit
from linesight_gateway.domain.access import Role, create_key, revoke_key
from linesight_gateway.domain.station_scope import resolve_stations

router = APIRouter(prefix="/api/v1", tags=["access"])


@router.get(
    "/me", response_model=WhoAmI, summary="The key or the signed-in person this request was made with"
)
def whoami(principal: Viewer) -> WhoAmI:
    stations = None if principal.station_ids is None else sorted(principal.station_ids)
    return WhoAmI(
        key_id=principal.key_id,
        name=principal.name,
        role=principal.role,
        station_ids=stations,
        kind="user" if principal.is_person else "api_key",
        display_name=principal.display_name or principal.name,
        session_expires_at=principal.expires_at,
    )


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201, summary="Create an API key")
def create_api_key(body: ApiKeyCreate, principal: Admin, session: SessionDep) -> ApiKeyCreated:
    station_ids = None
    if body.stations is not None:
        if body.role is Role.admin:
            # an admin key can issue itself an unscoped key, so a scope on it would only look safe
            raise Problem(422, "An admin key acts everywhere; station scoping is for the other roles.")
        station_ids = resolve_stations(session, body.stations)
    key, raw = create_key(
        session, name=body.name, role=body.role, created_by=principal.api_key_id, station_ids=station_ids
    )
    audit.record(
        session,
        principal,
        "api_key.create",
        "api_key",
        str(key.id),
        {"name": key.name, "role": key.role, "prefix": key.prefix, "station_ids": key.station_ids},
    )
    session.flush()
    session.refresh(key)
    return ApiKeyCreated(**ApiKeyOut.model_validate(key).model_dump(), key=raw)


@router.get("/api-keys", response_model=ApiKeyList, summary="List API keys (never the keys themselves)")
def list_api_keys(principal: Admin, session: SessionDep, include_revoked: bool = False) -> ApiKeyList:
    stmt = select(ApiKey).order_by(ApiKey.created_at)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return ApiKeyList(items=[ApiKeyOut.model_validate(k) for k in session.scalars(stmt)])


@router.delete("/api-keys/{key_id}", response_model=ApiKeyOut, summary="Revoke an API key")
def revoke_api_key(
    key_id: uuid.UUID, principal: Admin, session: SessionDep, key_cache: KeyCacheDep
) -> ApiKeyOut:
    key = revoke_key(session, key_id)
    if key is None:
        raise NotFound("API key", key_id)
    audit.record(session, principal, "api_key.revoke", "api_key", str(key.id), {"name": key.name})
    key_cache.forget_key(key.id)
    return ApiKeyOut.model_validate(key)
