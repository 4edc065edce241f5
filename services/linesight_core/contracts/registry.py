"""The registry's API contract: models, versions, aliases, alias history, comparison."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Task = Literal["detect", "classify"]
VersionStatus = Literal["ready", "archived"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
MAX_VERSION = 2**31 - 1  # a Postgres integer
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"


class ModelCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "bench-tools", "task": "detect", "description": "Line 3 bench"}]
        }
    )

    name: str = Field(pattern=NAME_PATTERN, description="Lower-case letters, digits, '.', '_', '-'")
    task: Task
    description: str = Field("", max_length=2000)


class ModelUpdate(BaseModel):
    description: str = Field(max_length=2000)


class ModelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    task: Task
    description: str
    created_at: datetime
    latest_version: int | None = None
    aliases: dict[str, int] = Field(default_factory=dict, description="alias → version number")


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: uuid.UUID
    model_name: str
    version: int
    sha256: str
    artifact_bucket: str
    artifact_key: str
    size_bytes: int
    task: Task
    imgsz: list[int]
    class_names: dict[str, str]
    stride: int | None
    dynamic_batch: bool
    metrics: dict[str, Any]
    params: dict[str, Any]
    dataset_version_id: uuid.UUID | None
    training_run_id: uuid.UUID | None
    created_by: str
    notes: str
    status: VersionStatus
    created_at: datetime
    aliases: list[str] = Field(default_factory=list)


class ModelVersionUpdate(BaseModel):
    status: VersionStatus | None = None
    notes: str | None = Field(None, max_length=4000)


class AliasMove(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"version": 3, "moved_by": "engineer:anna", "reason": "better mAP50"}]
        }
    )

    version: int = Field(ge=1, le=MAX_VERSION)
    moved_by: str = Field("", max_length=100)
    reason: str = Field("", max_length=2000)


class AliasOut(BaseModel):
    model_name: str
    alias: str
    version: int
    sha256: str
    updated_at: datetime
    updated_by: str

    model_config = ConfigDict(protected_namespaces=())


class AliasEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True, protected_namespaces=())

    id: int
    model_name: str
    alias: str
    from_version: int | None
    to_version: int | None
    moved_by: str
    reason: str
    at: datetime


class ArtifactLink(BaseModel):
    url: str
    expires_at: datetime
    sha256: str
    size_bytes: int


class VersionComparison(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    versions: list[ModelVersionOut]
    metric_names: list[str] = Field(description="Union of the metric names of the compared versions")
    metrics: dict[str, dict[str, Any]] = Field(description="metric → {version: value}")
    params: dict[str, dict[str, Any]] = Field(description="param → {version: value}; only params that differ")
    classes_equal: bool
    best: dict[str, int] = Field(description="metric → version with the highest value")


class ModelPromoted(BaseModel):
    """Payload of the `linesight.model.promoted` event on Redis."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    alias: str
    version: int | None
    from_version: int | None
    sha256: str | None
    at: datetime
