"""Response bodies of the audit log endpoint."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from linesight_gateway.api.access_schemas import ADMIN_KEY_ID_EXAMPLE, KEY_ID_EXAMPLE


class AuditEventOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": 1042,
                    "at": "2026-11-02T07:55:00Z",
                    "actor_key_id": ADMIN_KEY_ID_EXAMPLE,
                    "actor_name": "bootstrap admin",
                    "action": "api_key.create",
                    "object_type": "api_key",
                    "object_id": KEY_ID_EXAMPLE,
                    "details": {"name": "line 3 tablet", "role": "operator", "prefix": "lsk_3f9a1c2e"},
                    "request_id": "4f1c2b9e8d7a4c3b9e0f1a2b3c4d5e6f",
                }
            ]
        },
    )

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
