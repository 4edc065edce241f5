"""Request and response bodies of the gateway's access, audit and system endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from linesight_gateway.domain.access import Role


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"name": "line 3 tablet", "role": "operator"}]})

    name: str = Field(min_length=1, max_length=100, description="Who or what uses the key")
    role: Role


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it")
    role: Role
    created_at: datetime
    created_by: uuid.UUID | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    bootstrap: bool


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself. Shown once: only its hash is stored.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class WhoAmI(BaseModel):
    key_id: uuid.UUID
    name: str
    role: Role


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_key_id: uuid.UUID | None
    actor_name: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any]
    request_id: str | None


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: int | None = Field(None, description="Pass as `cursor` to get the next (older) page")
