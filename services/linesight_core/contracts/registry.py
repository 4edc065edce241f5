"""The registry's API contract: models, versions, aliases, alias history, comparison."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# What a model does, and what a dataset holds: boxes (detect), a class per image (classify) or polygons
# (segment). The registry does not train segment models yet: a run on a segment dataset is refused.
Task = Literal["detect", "classify", "segment"]
DatasetTask = Task
VersionStatus = Literal["ready", "archived"]
NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
MAX_VERSION = 2**31 - 1  # a Postgres integer
ALIAS_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"

# Shown in the OpenAPI documents: one model, bench-tools, with versions 3 (production) and 4 (staging).
_SHA_V3 = "904cb1c3b85f864a9b4f43b3f59e11d44b7ce7921fe877926553eb0845e211e8"
_SHA_V4 = "d314bc038fa8a10ef81ba45d3c0ef3e3557cb1813d54b8721d85c83489257511"
_ENGINEER = "anna (0b5d7f91-3c2e-4a68-9d10-4f6b8d0a2c53)"
_VERSION_3_EXAMPLE: dict[str, Any] = {
    "id": "c4e2a1f0-5b3d-4c6e-8a7f-9e0d1c2b3a45",
    "model_name": "bench-tools",
    "version": 3,
    "sha256": _SHA_V3,
    "artifact_bucket": "linesight-models",
    "artifact_key": f"onnx/{_SHA_V3}.onnx",
    "size_bytes": 12262417,
    "task": "detect",
    "imgsz": [640, 640],
    "class_names": {"0": "wrench", "1": "screwdriver", "2": "tape"},
    "stride": 32,
    "dynamic_batch": True,
    "metrics": {"mAP50": 0.78, "mAP50-95": 0.52, "precision": 0.81, "recall": 0.74},
    "params": {"epochs": 50, "imgsz": 640, "batch": 16},
    "dataset_version_id": "9d3f1b57-6e2a-4c80-b4d1-7f9e2a6c8b30",
    "training_run_id": "e7b4c2d9-1a3f-4e56-9b08-2d4f6a8c0e19",
    "created_by": "training:e7b4c2d9-1a3f-4e56-9b08-2d4f6a8c0e19",
    "notes": "",
    "status": "ready",
    "created_at": "2026-11-20T14:05:00Z",
    "aliases": ["production"],
}
_VERSION_4_EXAMPLE: dict[str, Any] = {
    **_VERSION_3_EXAMPLE,
    "id": "7a9c1e3b-5d7f-4b21-8c43-6e8a0c2e4f67",
    "version": 4,
    "sha256": _SHA_V4,
    "artifact_key": f"onnx/{_SHA_V4}.onnx",
    "metrics": {"mAP50": 0.81, "mAP50-95": 0.55, "precision": 0.83, "recall": 0.72},
    "params": {"epochs": 20, "imgsz": 640, "batch": 16},
    "dataset_version_id": "1e5b9d2f-7c3a-4e84-a6f0-8b2d4f6a8c13",
    "training_run_id": "f2a4c6e8-0b1d-4f35-9a57-3c5e7a9b1d20",
    "created_by": "training:f2a4c6e8-0b1d-4f35-9a57-3c5e7a9b1d20",
    "notes": "fine-tuned on week 12 feedback",
    "created_at": "2026-11-22T09:02:00Z",
    "aliases": ["staging"],
}


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
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"description": "Tools on the bench of line 3, camera above"}]}
    )

    description: str = Field(max_length=2000)


class PromotionGateFlag(BaseModel):
    """The gateway tells the registry whether a promotion gate guards the model's production alias."""

    model_config = ConfigDict(extra="forbid")

    gated: bool


class ModelOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "3b0f6a52-7c1d-4e8a-9f21-5d6e7a8b9c01",
                    "name": "bench-tools",
                    "task": "detect",
                    "description": "Tools on the bench of line 3",
                    "created_at": "2026-11-02T08:15:00Z",
                    "latest_version": 4,
                    "aliases": {"production": 3, "staging": 4},
                }
            ]
        },
    )

    id: uuid.UUID
    name: str
    task: Task
    description: str
    created_at: datetime
    latest_version: int | None = None
    aliases: dict[str, int] = Field(default_factory=dict, description="alias → version number")
    promotion_gated: bool = Field(
        False,
        description="A promotion gate guards production: it moves only to a version whose replay of "
        "verified history passes (training stages, never promotes)",
    )


class ModelVersionOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True, protected_namespaces=(), json_schema_extra={"examples": [_VERSION_3_EXAMPLE]}
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"status": "archived", "notes": "replaced by v4: missed screwdrivers under glare"},
                {"notes": "trained on the night-shift photos too"},
            ]
        }
    )

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

    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "model_name": "bench-tools",
                    "alias": "production",
                    "version": 4,
                    "sha256": _SHA_V4,
                    "updated_at": "2026-11-22T09:12:00Z",
                    "updated_by": _ENGINEER,
                }
            ]
        },
    )


class AliasEventOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "id": 17,
                    "model_name": "bench-tools",
                    "alias": "production",
                    "from_version": 3,
                    "to_version": 4,
                    "moved_by": _ENGINEER,
                    "reason": "mAP50-95 0.55 > 0.52 on the test split",
                    "at": "2026-11-22T09:12:00Z",
                }
            ]
        },
    )

    id: int
    model_name: str
    alias: str
    from_version: int | None
    to_version: int | None
    moved_by: str
    reason: str
    at: datetime


class ArtifactLink(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "url": f"http://localhost:8333/linesight-models/onnx/{_SHA_V3}.onnx"
                    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=900&X-Amz-Signature=5c1e…",
                    "expires_at": "2026-11-22T10:15:00Z",
                    "sha256": _SHA_V3,
                    "size_bytes": 12262417,
                }
            ]
        }
    )

    url: str
    expires_at: datetime
    sha256: str
    size_bytes: int


class VersionComparison(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "model_name": "bench-tools",
                    "versions": [_VERSION_3_EXAMPLE, _VERSION_4_EXAMPLE],
                    "metric_names": ["mAP50", "mAP50-95", "precision", "recall"],
                    "metrics": {
                        "mAP50": {"3": 0.78, "4": 0.81},
                        "mAP50-95": {"3": 0.52, "4": 0.55},
                        "precision": {"3": 0.81, "4": 0.83},
                        "recall": {"3": 0.74, "4": 0.72},
                    },
                    "params": {"epochs": {"3": 50, "4": 20}},
                    "classes_equal": True,
                    "best": {"mAP50": 4, "mAP50-95": 4, "precision": 4, "recall": 3},
                }
            ]
        },
    )

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


class TrainingPhotos(BaseModel):
    """What the photos a model version was trained on look like: the statistics (linesight_core.photo_stats)
    of a sample of its dataset version's train split. The gateway compares inspection photos with them."""

    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "model_name": "bench-tools",
                    "version": 3,
                    "dataset": "bench-tools",
                    "dataset_version": 2,
                    "split": "train",
                    "items": 412,
                    "unreadable": 0,
                    "photos": [
                        {
                            "brightness": 121.4,
                            "contrast": 38.2,
                            "sharpness": 412.7,
                            "red_share": 0.3561,
                            "green_share": 0.3312,
                            "aspect": 1.333,
                        }
                    ],
                }
            ]
        },
    )

    model_name: str
    version: int
    dataset: str
    dataset_version: int
    split: str = Field(description="The split sampled: train, or every item when it has no train split")
    items: int = Field(description="Items in that split")
    unreadable: int = Field(0, description="Sampled items whose stored image could not be decoded")
    photos: list[dict[str, float]] = Field(description="The statistics of up to 200 of them")
