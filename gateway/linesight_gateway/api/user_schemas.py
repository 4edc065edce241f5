"""Request and response bodies of sign-in (auth) and of the users admins manage."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from linesight_gateway.domain.access import Role

_USER_ID = "5f0c6a1e-8b2d-4c7e-9a31-2d4e6f8a0b1c"
_STATION_ID = "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
PASSWORD_MIN = 8
_USER_EXAMPLE: dict[str, Any] = {
    "id": _USER_ID,
    "username": "mara",
    "display_name": "Mara Lindqvist",
    "role": "operator",
    "station_ids": [_STATION_ID],
    "active": True,
    "created_at": "2026-11-02T07:55:00Z",
    "created_by": "bootstrap admin",
    "last_login_at": "2026-11-22T05:58:12Z",
}


class LoginRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"username": "mara", "password": "correct horse battery"}]}
    )

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [_USER_EXAMPLE]})

    id: uuid.UUID
    username: str
    display_name: str
    role: Role
    station_ids: list[uuid.UUID] | None = Field(None, description="The user's stations; null: every station")
    active: bool
    created_at: datetime
    created_by: str | None
    last_login_at: datetime | None


class LoginOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "token": "lss_Vb2yX0m9Qe4TnB8pLd1sYf6GhJ0uEa3RiN5oWkMvq9Z",
                    "expires_at": "2026-11-22T17:58:12Z",
                    "user": _USER_EXAMPLE,
                }
            ]
        }
    )

    token: str = Field(
        description="The session token: send it as `Authorization: Bearer <token>` (or `X-API-Key`). "
        "Shown once: only its hash is stored."
    )
    expires_at: datetime
    user: UserOut


class UserCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "mara",
                    "display_name": "Mara Lindqvist",
                    "role": "operator",
                    "password": "correct horse battery",
                    "stations": ["line 3 torque check"],
                }
            ]
        }
    )

    username: str = Field(
        pattern=USERNAME_PATTERN,
        description="Letters, digits and . _ @ -, up to 64; stored in lower case",
    )
    display_name: str | None = Field(None, max_length=100, description="Shown in the UI; default: username")
    role: Role
    password: str = Field(min_length=PASSWORD_MIN, max_length=256)
    stations: list[str] | None = Field(
        None,
        min_length=1,
        max_length=100,
        description="Station ids or names the user may act at; omitted: every station. Not for admins.",
    )


class UserUpdate(BaseModel):
    """Only the fields given change. A new password or `active: false` ends the user's sessions."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"role": "engineer"}, {"active": False}, {"password": "new pass 2026"}]
        }
    )

    display_name: str | None = Field(None, min_length=1, max_length=100)
    role: Role | None = None
    active: bool | None = None
    password: str | None = Field(None, min_length=PASSWORD_MIN, max_length=256)
    stations: list[str] | None = Field(
        None, max_length=100, description="Station ids or names; an empty list: every station"
    )


class UserList(BaseModel):
    items: list[UserOut]
