"""Request and response bodies of the API-key endpoints and of "who am I"."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from linesight_gateway.domain.access import Role

# Shown in the OpenAPI document: the admin creates a key for the line 3 tablet.
ADMIN_KEY_ID_EXAMPLE = "9e8d7c6b-5a49-4382-b716-05f4e3d2c1b0"
KEY_ID_EXAMPLE = "0b5d7f91-3c2e-4a68-9d10-4f6b8d0a2c53"
_STATION_ID = "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d"
_KEY_EXAMPLE: dict[str, Any] = {
    "id": KEY_ID_EXAMPLE,
    "name": "line 3 tablet",
    "prefix": "lsk_3f9a1c2e",
    "role": "operator",
    "created_at": "2026-11-02T07:55:00Z",
    "created_by": ADMIN_KEY_ID_EXAMPLE,
    "last_used_at": "2026-11-22T09:59:41Z",
    "revoked_at": None,
    "bootstrap": False,
    "station_ids": [_STATION_ID],
}


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "line 3 tablet", "role": "operator", "stations": ["line 3 torque check"]}]
        }
    )

    name: str = Field(min_length=1, max_length=100, description="Who or what uses the key")
    role: Role
    stations: list[str] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Station ids or names the key may act at; omitted: every station. A scoped key gets "
        "403 on other stations' details, inspections, feedback and label reads. Not for admin keys.",
    )


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_KEY_EXAMPLE]})

    id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to recognise it")
    role: Role
    created_at: datetime
    created_by: uuid.UUID | None
    last_used_at: datetime | None
    revoked_at: datetime | None
    bootstrap: bool
    station_ids: list[uuid.UUID] | None = Field(None, description="The key's stations; null: every station")


class ApiKeyCreated(ApiKeyOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_KEY_EXAMPLE,
                    "last_used_at": None,
                    "key": "lsk_3f9a1c2e_q9ZrV7wK2mXc4TnB8pLd1sYf6GhJ0uEa3RiN5oWkMv",
                }
            ]
        }
    )

    key: str = Field(description="The key itself. Shown once: only its hash is stored.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class WhoAmI(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "key_id": KEY_ID_EXAMPLE,
                    "name": "line 3 tablet",
                    "role": "operator",
                    "station_ids": [_STATION_ID],
                    "kind": "api_key",
                    "display_name": "line 3 tablet",
                    "session_expires_at": None,
                }
            ]
        }
    )

    key_id: uuid.UUID = Field(description="The API key's id; for a signed-in person, the user's id")
    name: str = Field(description="The key's name, or the person's username (the audit log's actor_name)")
    role: Role
    station_ids: list[uuid.UUID] | None = None
    kind: Literal["api_key", "user"] = "api_key"
    display_name: str = Field("", description="The person's name as shown in the UI (a key: its name)")
    session_expires_at: datetime | None = Field(None, description="When the person's session ends")
