"""The inference service's API contract: prediction parameters, predictions, loaded models."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from linesight_core.contracts.registry import ALIAS_PATTERN, NAME_PATTERN, Task

__all__ = ["Task"]  # re-exported: the inference contract names the same tasks as the registry
Priority = Literal["live", "replay"]


class PredictParams(BaseModel):
    """What to run and how. Sent as multipart form fields next to the image(s), or as query parameters."""

    model_config = ConfigDict(
        protected_namespaces=(),
        extra="forbid",
        json_schema_extra={"examples": [{"model": "bench-tools", "alias": "production", "conf": 0.25}]},
    )

    model: str = Field(pattern=NAME_PATTERN, description="Model name in the registry")
    alias: str | None = Field(
        None, pattern=ALIAS_PATTERN, description="Alias to serve; `production` when neither this nor version"
    )
    version: int | None = Field(None, ge=1, description="An explicit version number instead of an alias")
    conf: float = Field(
        0.25, ge=0.0, le=1.0, description="Detect and segment: minimum confidence of a detection"
    )
    iou: float = Field(
        0.7, ge=0.0, le=1.0, description="Detect and segment: IoU threshold of non-maximum suppression"
    )
    max_det: int = Field(
        300, ge=1, le=1000, description="Detect and segment: most detections returned per image"
    )
    top_k: int = Field(5, ge=1, le=1000, description="Classify: how many classes to return, best first")
    priority: Priority = Field(
        "live",
        description="`live` (inspections) or `replay` (replays of verified history): a replay image waits "
        "until no live image is in the service, and only a few run at a time",
    )

    @model_validator(mode="after")
    def _alias_or_version(self) -> PredictParams:
        if self.alias is not None and self.version is not None:
            raise ValueError("give either alias or version, not both")
        return self

    @property
    def target(self) -> str:
        """The alias asked for, or `production` when neither alias nor version was given."""
        return self.alias or "production"


class Box(BaseModel):
    """Corners in pixels of the original image (after EXIF orientation), origin top left."""

    x1: float
    y1: float
    x2: float
    y2: float


class Detection(BaseModel):
    label: str
    class_id: int
    confidence: float
    box: Box


class SegmentInstance(BaseModel):
    """One instance found by a segment model: its box, and the outline and size of its mask (the mask is
    the network's, upsampled to the original image, thresholded at 0.5 and cut to the box)."""

    label: str
    class_id: int
    confidence: float
    box: Box
    polygon: list[tuple[float, float]] = Field(
        description="Outline of the mask's largest region, simplified (Douglas-Peucker), as [x, y] points "
        "in pixels of the original image; empty when the mask is empty"
    )
    area_px: int = Field(description="Pixels of the original image inside the mask (every region)")
    length_px: float = Field(
        description="Length estimate: the longest side of the smallest rotated rectangle around the "
        "largest region, in pixels of the original image (a crack's length, a scratch's extent)"
    )


class ClassScore(BaseModel):
    label: str
    class_id: int
    confidence: float


class ImageSize(BaseModel):
    width: int
    height: int


class StageTimings(BaseModel):
    """Milliseconds spent by this image in each stage on the inference service."""

    queue: float = Field(description="Waiting for a batch slot on the model's session")
    preprocess: float = Field(description="Decoding the image and fitting it to the model input")
    inference: float = Field(description="ONNX Runtime run of the batch this image was part of")
    postprocess: float = Field(
        description="Decoding the output: confidence filter and NMS (and the masks of a segment model), or top-k"
    )
    total: float = Field(description="From the request's arrival at the handler to its result")


class Prediction(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "model_name": "bench-tools",
                    "alias": "production",
                    "version": 3,
                    "sha256": "9f2c…",
                    "task": "detect",
                    "detections": [
                        {
                            "label": "wrench",
                            "class_id": 0,
                            "confidence": 0.91,
                            "box": {"x1": 34.5, "y1": 80.2, "x2": 75.0, "y2": 181.9},
                        }
                    ],
                    "classes": None,
                    "image": {"width": 320, "height": 240},
                    "batch_size": 4,
                    "timings_ms": {
                        "queue": 0.4,
                        "preprocess": 1.1,
                        "inference": 9.8,
                        "postprocess": 0.3,
                        "total": 12.0,
                    },
                },
                {
                    "model_name": "casting-cracks",
                    "alias": "production",
                    "version": 2,
                    "sha256": "4be1…",
                    "task": "segment",
                    "detections": None,
                    "classes": None,
                    "instances": [
                        {
                            "label": "crack",
                            "class_id": 0,
                            "confidence": 0.87,
                            "box": {"x1": 212.0, "y1": 40.3, "x2": 371.6, "y2": 118.9},
                            "polygon": [[214.0, 61.0], [298.0, 41.0], [370.0, 97.0], [366.0, 117.0]],
                            "area_px": 2204,
                            "length_px": 171.43,
                        }
                    ],
                    "image": {"width": 640, "height": 480},
                    "batch_size": 1,
                    "timings_ms": {
                        "queue": 0.1,
                        "preprocess": 2.0,
                        "inference": 14.2,
                        "postprocess": 0.9,
                        "total": 17.6,
                    },
                },
            ]
        },
    )

    model_name: str
    alias: str | None = Field(description="The alias that was resolved; null when a version was asked for")
    version: int = Field(description="The model version that answered")
    sha256: str = Field(description="sha256 of the ONNX artifact that answered")
    task: Task
    detections: list[Detection] | None = Field(description="Detect models: best first; null otherwise")
    classes: list[ClassScore] | None = Field(description="Classify models: top-k, best first; null otherwise")
    instances: list[SegmentInstance] | None = Field(
        None, description="Segment models: best first, with polygon, area and length; null otherwise"
    )
    image: ImageSize
    batch_size: int = Field(description="How many images shared the ONNX Runtime run with this one")
    timings_ms: StageTimings


class LoadedModel(BaseModel):
    """One model version held in memory by this replica."""

    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    version: int
    sha256: str
    task: Task
    aliases: list[str] = Field(description="Aliases this replica serves with this version")
    imgsz: list[int] = Field(description="Network input [height, width]")
    class_names: dict[str, str]
    dynamic_batch: bool
    max_batch_size: int = Field(description="Most images per ONNX Runtime run")
    providers: list[str] = Field(description="ONNX Runtime execution providers of the session")
    loaded_at: datetime
    load_seconds: float = Field(description="Download (when not cached), session creation and warm-up")
    requests_served: int = Field(description="Images answered by this version since it was loaded")
    queue_depth: int = Field(description="Images waiting for a batch now")
