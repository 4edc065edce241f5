"""Request and response bodies of the stations API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from linesight_core import polygons
from linesight_core.contracts.registry import ALIAS_PATTERN, NAME_PATTERN
from linesight_gateway.domain.stations import check_mode_rules

Mode = Literal["detect", "classify", "segment"]
SHADOW_ALIAS = (
    "Shadow mode: another alias of the station's model (e.g. staging) whose version also answers every "
    "live inspection, after the live answer is returned; its answers are kept for engineers and never "
    "change a verdict"
)


class ExpectedItem(BaseModel):
    label: str = Field(min_length=1, max_length=100, description="A class name of the station's model")
    min_count: int = Field(1, ge=1, le=1000, description="At least this many must be seen")


class DefectRule(BaseModel):
    """Segment stations: the limits one defect class must stay within, inside the region of interest.
    A rule with no limit set allows no instance of its class (as max_count 0)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"label": "crack", "max_count": 0},
                {"label": "crack", "max_length": 5, "unit": "mm"},
            ]
        }
    )

    label: str = Field(min_length=1, max_length=100, description="A class of the station's segment model")
    max_count: int | None = Field(None, ge=0, le=10_000, description="At most this many instances")
    max_largest_area: float | None = Field(
        None, gt=0, description="The largest instance's area at most this (px² or mm², by unit)"
    )
    max_total_area_percent: float | None = Field(
        None,
        gt=0,
        le=100,
        description="All instances together cover at most this share of the region of interest (the "
        "whole photo without one), in percent",
    )
    max_length: float | None = Field(None, gt=0, description="The longest instance at most this (px or mm)")
    unit: Literal["px", "mm"] = Field("px", description="mm needs the station's mm_per_pixel")


MM_PER_PIXEL = (
    "Segment stations: millimetres per pixel of the photo (the camera's calibration), for rules in mm"
)
ROI = (
    "Segment stations: the region of interest, a polygon of [x, y] points normalised to the photo (0 to "
    "1); defects outside it are ignored, a defect partly inside counts only its part inside. Null: the "
    "whole photo"
)


def check_roi(roi: list[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
    if roi is None:
        return None
    points = polygons.normalised(roi)
    problem = polygons.polygon_problem(points)
    if problem:
        raise ValueError(f"roi: {problem}")
    return points


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


class TrainingPolicy(BaseModel):
    """How operators' corrections at this station become training data and new models."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"dataset": "line-3-bench", "retrain_after": 50, "auto_train": True, "epochs": 40}]
        }
    )

    dataset: str | None = Field(
        None,
        pattern=NAME_PATTERN,
        description="Registry dataset that feedback marked 'use for training' goes to; empty: the "
        "station's name (created on first use with the model's classes)",
    )
    retrain_after: int | None = Field(
        None,
        ge=1,
        le=100_000,
        description="Cut a new dataset version when this many feedback items arrived since the last one; "
        "empty: never automatically",
    )
    auto_train: bool = Field(False, description="Start a training run on every automatically cut version")
    auto_promote: bool = Field(
        False, description="A trained model that beats production becomes production without a person"
    )
    selection_metric: str | None = Field(
        None, max_length=32, description="Champion/challenger metric; empty: mAP50-95 (detect), accuracy"
    )
    architecture: str | None = Field(
        None,
        pattern=r"^[a-z0-9._-]{1,64}\.yaml$",
        description="Ultralytics model YAML trained from scratch; empty: the station mode's own "
        "(yolov8n.yaml for detect, yolov8n-seg.yaml for segment, yolov8n-cls.yaml for classify)",
    )
    epochs: int = Field(30, ge=1, le=1000)
    imgsz: int = Field(320, ge=32, le=2048, multiple_of=32)
    batch: int = Field(16, ge=1, le=256)


class StationFields(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    description: str = Field("", max_length=2000)
    model_alias: str = Field("production", pattern=ALIAS_PATTERN)
    shadow_alias: str | None = Field(None, pattern=ALIAS_PATTERN, description=SHADOW_ALIAS)
    expected_items: list[ExpectedItem] = Field(default_factory=list, max_length=200)
    ok_classes: list[str] = Field(
        default_factory=list, max_length=200, description="Classify mode: the classes that mean OK"
    )
    defect_rules: list[DefectRule] = Field(
        default_factory=list, max_length=200, description="Segment stations: one rule per defect class"
    )
    mm_per_pixel: float | None = Field(None, gt=0, le=1000, description=MM_PER_PIXEL)
    roi: list[tuple[float, float]] | None = Field(None, max_length=polygons.MAX_POINTS, description=ROI)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    blur_faces: bool = Field(False, description="Blur faces before the photo is stored")
    blur_people: bool = Field(
        False,
        description="Blur whole people, as found by the gateway's person detector "
        "(LINESIGHT_PEOPLE_DETECTOR_MODEL), before the photo is stored",
    )
    unusual_needs_review: bool = Field(
        False,
        description="A photo flagged unusual (dark, blurred, camera moved, unlike the station's recent "
        "photos) turns a `success` answer into `low_confidence`, so someone checks it by eye",
    )
    active: bool = True
    training: TrainingPolicy = Field(default_factory=TrainingPolicy)


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
                    "blur_people": False,
                },
                {
                    "name": "casting-surface",
                    "mode": "segment",
                    "model_name": "casting-cracks",
                    "defect_rules": [
                        {"label": "crack", "max_length": 5, "unit": "mm"},
                        {"label": "porosity", "max_count": 3, "max_total_area_percent": 0.5},
                    ],
                    "mm_per_pixel": 0.08,
                    "roi": [[0.05, 0.1], [0.95, 0.1], [0.95, 0.9], [0.05, 0.9]],
                },
            ]
        },
    )

    name: str = Field(pattern=NAME_PATTERN)
    mode: Mode
    model_name: str = Field(pattern=NAME_PATTERN)

    _roi = field_validator("roi")(check_roi)

    @model_validator(mode="after")
    def _mode_rules(self) -> StationCreate:
        check_mode_rules(
            self.mode,
            [e.model_dump() for e in self.expected_items],
            self.ok_classes,
            [r.model_dump() for r in self.defect_rules],
            self.mm_per_pixel,
        )
        return self


class StationUpdate(BaseModel):
    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"examples": [{"active": False}]})

    description: str | None = Field(None, max_length=2000)
    model_name: str | None = Field(None, pattern=NAME_PATTERN)
    model_alias: str | None = Field(None, pattern=ALIAS_PATTERN)
    shadow_alias: str | None = Field(None, pattern=ALIAS_PATTERN, description=SHADOW_ALIAS + "; null: off")
    expected_items: list[ExpectedItem] | None = Field(None, max_length=200)
    ok_classes: list[str] | None = Field(None, max_length=200)
    defect_rules: list[DefectRule] | None = Field(None, max_length=200)
    mm_per_pixel: float | None = Field(None, gt=0, le=1000, description=MM_PER_PIXEL + "; null: none")
    roi: list[tuple[float, float]] | None = Field(
        None, max_length=polygons.MAX_POINTS, description=ROI + "; null: the whole photo"
    )
    thresholds: Thresholds | None = None
    blur_faces: bool | None = None
    blur_people: bool | None = None
    unusual_needs_review: bool | None = None
    active: bool | None = None
    training: TrainingPolicy | None = None

    _roi = field_validator("roi")(check_roi)


class StationOut(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "id": "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d",
                    "name": "line-3-bench",
                    "description": "Tool bench at the end of line 3",
                    "mode": "detect",
                    "model_name": "bench-tools",
                    "model_alias": "production",
                    "shadow_alias": "staging",
                    "expected_items": [
                        {"label": "wrench", "min_count": 1},
                        {"label": "screwdriver", "min_count": 2},
                    ],
                    "ok_classes": [],
                    "thresholds": {"success": 0.7, "low_confidence": 0.5},
                    "has_reference_image": True,
                    "blur_faces": True,
                    "blur_people": False,
                    "unusual_needs_review": True,
                    "active": True,
                    "training": {
                        "dataset": "bench-tools",
                        "retrain_after": 50,
                        "auto_train": True,
                        "auto_promote": False,
                        "selection_metric": "mAP50-95",
                        "architecture": "yolov8n.yaml",
                        "epochs": 40,
                        "imgsz": 320,
                        "batch": 16,
                    },
                    "training_state": {
                        "dataset": "bench-tools",
                        "feedback_since_version": 12,
                        "last_version": 3,
                        "last_cut_at": "2026-11-21T17:00:00Z",
                        "last_run_id": "f2a4c6e8-0b1d-4f35-9a57-3c5e7a9b1d20",
                    },
                    "created_at": "2026-11-02T08:30:00Z",
                    "updated_at": "2026-11-21T17:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    name: str
    description: str
    mode: Mode
    model_name: str
    model_alias: str
    shadow_alias: str | None = Field(None, description=SHADOW_ALIAS)
    expected_items: list[ExpectedItem]
    ok_classes: list[str]
    defect_rules: list[DefectRule] = Field(default_factory=list, description="Segment stations")
    mm_per_pixel: float | None = Field(None, description=MM_PER_PIXEL)
    roi: list[tuple[float, float]] | None = Field(None, description=ROI)
    thresholds: Thresholds
    has_reference_image: bool
    blur_faces: bool
    blur_people: bool
    unusual_needs_review: bool
    active: bool
    training: TrainingPolicy
    training_state: dict[str, Any] = Field(
        default_factory=dict,
        description="Where the feedback loop stands: dataset, last_version, feedback_since_version, last_run_id",
    )
    created_at: datetime
    updated_at: datetime


class StationPage(BaseModel):
    items: list[StationOut]
    total: int
    limit: int
    offset: int
