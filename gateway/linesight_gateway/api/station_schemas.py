"""Request and response bodies of the stations API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from linesight_core.contracts.registry import ALIAS_PATTERN, NAME_PATTERN

Mode = Literal["detect", "classify"]


class ExpectedItem(BaseModel):
    label: str = Field(min_length=1, max_length=100, description="A class name of the station's model")
    min_count: int = Field(1, ge=1, le=1000, description="At least this many must be seen")


class Thresholds(BaseModel):
    """Confidence status of an answer: >= success → `success`; >= low_confidence → `low_confidence`;
    below → `rejected`."""

    success: float = Field(0.70, ge=0.0, le=1.0)
    low_confidence: float = Field(0.50, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if self.low_confidence > self.success:
            raise ValueError("low_confidence must not be above success")
        return self


class StationFields(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    description: str = Field("", max_length=2000)
    model_alias: str = Field("production", pattern=ALIAS_PATTERN)
    expected_items: list[ExpectedItem] = Field(default_factory=list, max_length=200)
    ok_classes: list[str] = Field(
        default_factory=list, max_length=200, description="Classify mode: the classes that mean OK"
    )
    thresholds: Thresholds = Field(default_factory=Thresholds)
    blur_faces: bool = Field(False, description="Blur faces before the photo is stored")
    active: bool = True


class StationCreate(StationFields):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "name": "line-3-bench",
                    "mode": "detect",
                    "model_name": "bench-tools",
                    "expected_items": [
                        {"label": "wrench", "min_count": 1},
                        {"label": "screwdriver", "min_count": 2},
                    ],
                    "blur_faces": True,
                }
            ]
        },
    )

    name: str = Field(pattern=NAME_PATTERN)
    mode: Mode
    model_name: str = Field(pattern=NAME_PATTERN)

    @model_validator(mode="after")
    def _mode_rules(self) -> StationCreate:
        check_mode_rules(self.mode, self.expected_items, self.ok_classes)
        return self


class StationUpdate(BaseModel):
    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"examples": [{"active": False}]})

    description: str | None = Field(None, max_length=2000)
    model_name: str | None = Field(None, pattern=NAME_PATTERN)
    model_alias: str | None = Field(None, pattern=ALIAS_PATTERN)
    expected_items: list[ExpectedItem] | None = Field(None, max_length=200)
    ok_classes: list[str] | None = Field(None, max_length=200)
    thresholds: Thresholds | None = None
    blur_faces: bool | None = None
    active: bool | None = None


def check_mode_rules(mode: str, expected: list[ExpectedItem], ok_classes: list[str]) -> None:
    if mode == "detect" and not expected:
        raise ValueError("a detect station needs at least one expected item")
    if mode == "classify" and not ok_classes:
        raise ValueError("a classify station needs ok_classes: the classes that mean OK")
    labels = [e.label for e in expected]
    if len(set(labels)) != len(labels):
        raise ValueError("each expected item label may appear once")


class StationOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    id: uuid.UUID
    name: str
    description: str
    mode: Mode
    model_name: str
    model_alias: str
    expected_items: list[ExpectedItem]
    ok_classes: list[str]
    thresholds: Thresholds
    has_reference_image: bool
    blur_faces: bool
    active: bool
    created_at: datetime
    updated_at: datetime


class StationPage(BaseModel):
    items: list[StationOut]
    total: int
    limit: int
    offset: int
