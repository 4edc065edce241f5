"""The datasets contract: datasets, items and their labels, imports, stats, immutable versions and manifests.

docs/training-loop.md ("Datasets") describes the rules; these models are their exact form."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from linesight_core.contracts.registry import NAME_PATTERN, DatasetTask
from linesight_core.polygons import MAX_POINTS

Split = Literal["train", "val", "test"]
ItemSource = Literal["upload", "feedback", "import"]
ImportFormat = Literal["yolo", "labelstudio"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")
# A class name is also a folder name in a classify export: no separators, no control characters.
CLASS_NAME_PATTERN = r"^[^/\\\x00-\x1f\x7f]{1,100}$"
MAX_CLASSES = 1000
STATION_PATTERN = NAME_PATTERN

# Shown in the OpenAPI documents: dataset bench-tools (detect) with one photo and its version 3.
_PHOTO_SHA = "e5a5555d73bc0e1568d65563abf327bd6c0b9b9dc3336e86e0b17e865e9ee6d2"
_PHOTO_LABELS: list[Any] = [
    {"class_id": 0, "cx": 0.3, "cy": 0.45, "w": 0.12, "h": 0.38},
    {"class_id": 1, "cx": 0.62, "cy": 0.5, "w": 0.08, "h": 0.41},
]
_CLASSES: list[Any] = ["wrench", "screwdriver", "tape"]


ClassName = Annotated[
    str, Field(pattern=CLASS_NAME_PATTERN, description="1-100 characters, no '/', '\\' or control characters")
]


def _check_class_names(names: list[str]) -> list[str]:
    for n in names:
        if n != n.strip() or n in (".", ".."):
            raise ValueError(f"class name {n!r} must not be '.', '..' or start/end with spaces")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"class names must be unique; repeated: {', '.join(dupes)}")
    return names


class DatasetCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "bench-tools",
                    "task": "detect",
                    "class_names": ["wrench", "screwdriver", "tape"],
                    "description": "Tool bench of line 3",
                    "station": "line-3-bench",
                },
                {"name": "seal-ok", "task": "classify", "class_names": ["ok", "nok"]},
            ]
        }
    )

    name: str = Field(pattern=NAME_PATTERN, description="Lower-case letters, digits, '.', '_', '-'")
    task: DatasetTask
    class_names: list[ClassName] = Field(
        min_length=1,
        max_length=MAX_CLASSES,
        description="Ordered; the index is the YOLO class id. No '/', '\\' or control characters.",
    )
    description: str = Field("", max_length=2000)
    station: str | None = Field(None, pattern=STATION_PATTERN, description="Gateway station it belongs to")

    @field_validator("class_names")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return _check_class_names(names)


class DatasetUpdate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"description": "Line 3, from week 12", "add_classes": ["hammer"]}]}
    )

    description: str | None = Field(None, max_length=2000)
    station: str | None = Field(None, pattern=STATION_PATTERN)
    add_classes: list[ClassName] = Field(
        default_factory=list,
        max_length=MAX_CLASSES,
        description="Appended to class_names; existing classes never move, so stored labels keep their meaning",
    )

    @field_validator("add_classes")
    @classmethod
    def _names(cls, names: list[str]) -> list[str]:
        return _check_class_names(names)


class DatasetOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "5a7e9c13-2b4d-4f60-8e1a-3c5b7d9f0e24",
                    "name": "bench-tools",
                    "task": "detect",
                    "class_names": _CLASSES,
                    "description": "Tool bench of line 3",
                    "station": "line-3-bench",
                    "created_at": "2026-11-02T08:20:00Z",
                    "item_count": 412,
                    "latest_version": 3,
                }
            ]
        }
    )

    id: uuid.UUID
    name: str
    task: DatasetTask
    class_names: list[str]
    description: str
    station: str | None
    created_at: datetime
    item_count: int = 0
    latest_version: int | None = None


def _unit(v: float, name: str) -> float:
    if not math.isfinite(v) or not 0.0 <= v <= 1.0:
        raise ValueError(f"{name} must be between 0 and 1 (normalised to the image size); got {v}")
    return v


# Box edges may overshoot the image by this much: YOLO text rounds to 6 decimals.
EDGE_TOLERANCE = 1e-3


class DetectLabel(BaseModel):
    """One box: class id and centre/size normalised to the image (0..1), as in a YOLO label line."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"class_id": 0, "cx": 0.5, "cy": 0.4, "w": 0.2, "h": 0.3}]}
    )

    class_id: int = Field(ge=0, lt=MAX_CLASSES)
    cx: float
    cy: float
    w: float
    h: float

    @field_validator("cx", "cy", "w", "h")
    @classmethod
    def _in_unit(cls, v: float, info) -> float:  # type: ignore[no-untyped-def]
        return _unit(v, info.field_name)

    @model_validator(mode="after")
    def _inside(self) -> DetectLabel:
        if self.w <= 0 or self.h <= 0:
            raise ValueError(f"the box has zero size (w={self.w}, h={self.h})")
        for centre, size, axis in ((self.cx, self.w, "x"), (self.cy, self.h, "y")):
            if centre - size / 2 < -EDGE_TOLERANCE or centre + size / 2 > 1 + EDGE_TOLERANCE:
                raise ValueError(f"the box reaches outside the image along {axis} ({centre}±{size / 2})")
        return self


class SegmentLabel(BaseModel):
    """One instance: class id and its outline normalised to the image (0..1), as in a YOLO segmentation
    label line (`class x1 y1 x2 y2 ...`). The registry also refuses outlines that cross or touch
    themselves and degenerate ones (less than half a pixel of area)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"class_id": 0, "polygon": [[0.21, 0.30], [0.64, 0.28], [0.66, 0.33], [0.22, 0.36]]}]
        }
    )

    class_id: int = Field(ge=0, lt=MAX_CLASSES)
    polygon: list[tuple[float, float]] = Field(
        min_length=3,
        max_length=MAX_POINTS,
        description="[x, y] vertices in order, normalised to the image width and height (0..1)",
    )


class ClassifyLabel(BaseModel):
    class_id: int = Field(ge=0, lt=MAX_CLASSES)


Labels = list[DetectLabel] | list[SegmentLabel] | ClassifyLabel | None


class LabelsUpdate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"labels": [{"class_id": 1, "cx": 0.5, "cy": 0.5, "w": 0.1, "h": 0.4}]},
                {"labels": {"class_id": 0}},
                {"labels": [{"class_id": 0, "polygon": [[0.2, 0.3], [0.6, 0.28], [0.4, 0.5]]}]},
                {"labels": []},
            ]
        }
    )

    labels: Labels = Field(
        description="detect: a list of boxes, segment: a list of polygons ([] is a background image); "
        "classify: {class_id} or null"
    )


class DatasetItemOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "2c6e8a0b-4d1f-4a37-8c59-6e0a2b4d6f81",
                    "dataset": "bench-tools",
                    "sha256": _PHOTO_SHA,
                    "image_key": f"images/e5/{_PHOTO_SHA}.jpg",
                    "width": 640,
                    "height": 480,
                    "size_bytes": 48213,
                    "labels": _PHOTO_LABELS,
                    "labelled": True,
                    "split": "train",
                    "source": "feedback",
                    "origin": "inspection:1f0c2a9e-4a51-4b8e-9d6a-3b5c0c1e2f10",
                    "created_at": "2026-11-21T16:40:00Z",
                    "updated_at": "2026-11-21T16:40:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    dataset: str
    sha256: str
    image_key: str
    width: int
    height: int
    size_bytes: int
    labels: Labels
    labelled: bool = Field(
        description="detect, segment: at least one box or polygon; classify: a class is set"
    )
    split: Split
    source: ItemSource
    origin: str
    created_at: datetime
    updated_at: datetime


class ImportReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset": "bench-tools",
                    "format": "yolo",
                    "images": 120,
                    "added": 112,
                    "replaced": 5,
                    "skipped": 3,
                    "warnings": [
                        "Splits in the archive are not kept: each image's split comes from its hash."
                    ],
                }
            ]
        }
    )

    dataset: str
    format: ImportFormat
    images: int = Field(description="Images found in the archive")
    added: int = Field(description="New items")
    replaced: int = Field(description="Images already in the dataset whose labels changed")
    skipped: int = Field(description="Images already in the dataset with the same labels, or not annotated")
    warnings: list[str] = Field(default_factory=list, description="What was ignored, and why")


class DatasetStats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset": "bench-tools",
                    "task": "detect",
                    "items": 412,
                    "images_per_split": {"train": 330, "val": 41, "test": 41},
                    "instances_per_class": {"wrench": 398, "screwdriver": 741, "tape": 205},
                    "images_without_labels": 9,
                    "images_per_source": {"upload": 120, "feedback": 180, "import": 112},
                },
                {
                    "dataset": "casting-cracks",
                    "task": "segment",
                    "items": 240,
                    "images_per_split": {"train": 170, "val": 35, "test": 35},
                    "instances_per_class": {"crack": 310, "pore": 95},
                    "images_without_labels": 40,
                    "images_per_source": {"upload": 0, "feedback": 0, "import": 240},
                    "mask_area_px_per_class": {"crack": 1_250_400.0, "pore": 61_750.0},
                    "mask_share_per_class": {"crack": 0.0131, "pore": 0.0021},
                },
            ]
        }
    )

    dataset: str
    task: DatasetTask
    items: int
    images_per_split: dict[str, int] = Field(description="train/val/test → images")
    instances_per_class: dict[str, int] = Field(
        description="class name → boxes (detect), polygons (segment) or images (classify)"
    )
    images_without_labels: int = Field(
        description="detect, segment: background images; classify: no class set"
    )
    images_per_source: dict[str, int]
    mask_area_px_per_class: dict[str, float] | None = Field(
        None, description="segment only: class name → area of all its polygons, in pixels of their images"
    )
    mask_share_per_class: dict[str, float | None] | None = Field(
        None,
        description="segment only: class name → mean share of its image one polygon covers (0..1; "
        "null for a class without polygons)",
    )


class DatasetVersionCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"notes": "week 12 feedback added"}]})

    notes: str = Field("", max_length=4000)
    created_by: str | None = Field(None, max_length=100, description="Defaults to the calling actor")


class DiffSummary(BaseModel):
    against: int | None = Field(description="The version compared with; null for version 1")
    added: int
    removed: int
    relabelled: int


class VersionDiff(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset": "bench-tools",
                    "version": 3,
                    "against": 2,
                    "added": [_PHOTO_SHA],
                    "removed": [],
                    "relabelled": ["9b73ce2e5c72e9c8eb35ae3f509ef901b26ed3e9811f0782f3633cceab140918"],
                    "added_count": 1,
                    "removed_count": 0,
                    "relabelled_count": 1,
                }
            ]
        }
    )

    dataset: str
    version: int
    against: int | None
    added: list[str] = Field(description="sha256 of images only in `version`")
    removed: list[str] = Field(description="sha256 of images only in `against`")
    relabelled: list[str] = Field(description="sha256 of images in both whose labels differ")
    added_count: int
    removed_count: int
    relabelled_count: int


class DatasetVersionOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "9d3f1b57-6e2a-4c80-b4d1-7f9e2a6c8b30",
                    "dataset": "bench-tools",
                    "version": 3,
                    "task": "detect",
                    "class_names": _CLASSES,
                    "manifest_bucket": "linesight-datasets",
                    "manifest_key": "manifests/bench-tools/3.json",
                    "manifest_sha256": "c09c28bf608eb4578b0e82c0b9be3e2b44900d9f8f0c5534004b3c2950942f80",
                    "item_count": 412,
                    "split_counts": {"train": 330, "val": 41, "test": 41},
                    "class_counts": {"wrench": 398, "screwdriver": 741, "tape": 205},
                    "unlabelled": 9,
                    "diff": {"against": 2, "added": 50, "removed": 0, "relabelled": 4},
                    "notes": "week 12 feedback added",
                    "created_by": "anna (0b5d7f91-3c2e-4a68-9d10-4f6b8d0a2c53)",
                    "created_at": "2026-11-21T17:00:00Z",
                }
            ]
        }
    )

    id: uuid.UUID
    dataset: str
    version: int
    task: DatasetTask
    class_names: list[str]
    manifest_bucket: str
    manifest_key: str
    manifest_sha256: str
    item_count: int
    split_counts: dict[str, int]
    class_counts: dict[str, int] = Field(
        description="class name → boxes (detect), polygons (segment) or images (classify)"
    )
    unlabelled: int
    diff: DiffSummary = Field(description="Against the previous version; the lists are at .../diff")
    notes: str
    created_by: str
    created_at: datetime


class ManifestItem(BaseModel):
    sha256: str
    image_key: str
    split: Split
    labels: Labels
    width: int
    height: int
    source: ItemSource


class Manifest(BaseModel):
    """The JSON document at `manifests/<dataset>/<version>.json`: a version's whole content."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "dataset": "bench-tools",
                    "version": 3,
                    "task": "detect",
                    "class_names": _CLASSES,
                    "items": [
                        {
                            "sha256": _PHOTO_SHA,
                            "image_key": f"images/e5/{_PHOTO_SHA}.jpg",
                            "split": "train",
                            "labels": _PHOTO_LABELS,
                            "width": 640,
                            "height": 480,
                            "source": "feedback",
                        }
                    ],
                }
            ]
        }
    )

    dataset: str
    version: int
    task: DatasetTask
    class_names: list[str]
    items: list[ManifestItem] = Field(description="Sorted by sha256")
