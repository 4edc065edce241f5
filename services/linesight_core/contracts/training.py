"""The training-run contract between the registry, the training worker and the gateway."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from linesight_core.contracts.registry import MAX_VERSION, NAME_PATTERN, DatasetTask
from linesight_core.contracts.training_defaults import TRAINING_DEFAULTS

RunKind = Literal["train", "convert"]
RunStatus = Literal["queued", "running", "succeeded", "failed", "cancelled"]
FinishStatus = Literal["succeeded", "failed", "cancelled"]
FINISHED_STATUSES: tuple[str, ...] = ("succeeded", "failed", "cancelled")

# Celery task names: the contract with the training worker.
TRAIN_TASK = "linesight.training.run"
CONVERT_TASK = "linesight.training.convert"
TRAINING_QUEUE = "training"  # the Celery queue the registry sends runs to and the worker consumes


# The artifact name under which a run's PyTorch weights are reported (RunFinish.artifacts); a later run
# fine-tunes from it.
WEIGHTS_ARTIFACT = "best.pt"
CONVERT_TIME_LIMIT_SECONDS = 30 * 60

# What a run is judged on when it does not say; the worker reports metrics under these names.
DEFAULT_SELECTION_METRIC: dict[str, str] = {
    "detect": "mAP50-95",
    "segment": "mask_mAP50-95",
    "classify": "accuracy",
}

# What a run trains from scratch when it names no architecture (Ultralytics' nano model of the task); the
# worker and the gateway's station training policies both take it from here.
DEFAULT_ARCHITECTURE: dict[str, str] = {
    "detect": "yolov8n.yaml",
    "segment": "yolov8n-seg.yaml",
    "classify": "yolov8n-cls.yaml",
}

# An Ultralytics model YAML name (yolov8n.yaml, yolo11n-cls.yaml); ".yaml" may be left out.
ARCHITECTURE_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,58}$"
METRIC_PATTERN = r"^[A-Za-z0-9_.()/@-]{1,64}$"
DEFAULT_TIME_LIMIT_SECONDS = 6 * 3600
MAX_TIME_LIMIT_SECONDS = 7 * 24 * 3600
MAX_NUMBERS = 200  # entries in one losses/metrics map

# Shown in the OpenAPI documents: the run that fine-tuned bench-tools v3 into v4.
_RUN_ID = "f2a4c6e8-0b1d-4f35-9a57-3c5e7a9b1d20"
_EPOCH_RECORD_EXAMPLE: dict[str, Any] = {
    "epoch": 20,
    "epochs": 20,
    "losses": {"box_loss": 0.84, "cls_loss": 0.51, "dfl_loss": 0.93},
    "metrics": {"mAP50": 0.8, "mAP50-95": 0.54, "precision": 0.82, "recall": 0.71},
    "elapsed_s": 612.4,
    "eta_s": 0.0,
    "attempt": 1,
    "at": "2026-11-22T08:58:10Z",
}


def _finite_numbers(value: dict[str, float | None]) -> dict[str, float | None]:
    """NaN and infinity are not JSON; a diverged loss is reported as null instead of breaking the call."""
    if len(value) > MAX_NUMBERS:
        raise ValueError(f"at most {MAX_NUMBERS} entries")
    out: dict[str, float | None] = {}
    for key, number in value.items():
        if len(key) > 100:
            raise ValueError(f"names are at most 100 characters; {key[:20]!r}… is longer")
        out[key] = number if number is None or math.isfinite(number) else None
    return out


class TrainingRunCreate(BaseModel):
    """Train a model on a dataset version: from an Ultralytics architecture, or by fine-tuning the
    PyTorch weights of a registered version (give exactly one of the two)."""

    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "dataset": "bench-tools",
                    "dataset_version": 3,
                    "model_name": "bench-tools",
                    "architecture": "yolo11n.yaml",
                    "epochs": 50,
                    "imgsz": 640,
                    "batch": 16,
                    "seed": 0,
                    "patience": 20,
                    "notes": "more photos of the night shift",
                },
                {
                    "dataset": "bench-tools",
                    "dataset_version": 4,
                    "model_name": "bench-tools",
                    "base_model": "bench-tools",
                    "base_version": 2,
                    "epochs": 20,
                    "imgsz": 640,
                    "selection_metric": "mAP50",
                    "auto_promote": True,
                },
            ]
        },
    )

    dataset: str = Field(pattern=NAME_PATTERN, description="Dataset name")
    dataset_version: int = Field(ge=1, le=MAX_VERSION, description="Dataset version number")
    model_name: str = Field(
        pattern=NAME_PATTERN,
        description="Registry model the result is registered under; created with the dataset's task "
        "when it does not exist",
    )
    architecture: str | None = Field(
        None,
        pattern=ARCHITECTURE_PATTERN,
        description="Ultralytics model YAML to train from scratch, such as yolov8n.yaml, yolo11n.yaml, "
        "yolov8n-seg.yaml, yolov8n-cls.yaml",
    )
    base_model: str | None = Field(None, pattern=NAME_PATTERN, description="Model whose version to fine-tune")
    base_version: int | None = Field(None, ge=1, le=MAX_VERSION, description="Version to fine-tune")
    epochs: int = Field(TRAINING_DEFAULTS.epochs, ge=1, le=1000)
    imgsz: int = Field(
        TRAINING_DEFAULTS.imgsz, ge=32, le=2048, description="Training image size, a multiple of 32"
    )
    batch: int = Field(TRAINING_DEFAULTS.batch, ge=1, le=256)
    seed: int = Field(TRAINING_DEFAULTS.seed, ge=0, le=2**31 - 1)
    patience: int = Field(
        TRAINING_DEFAULTS.patience,
        ge=0,
        le=1000,
        description="Epochs without improvement before stopping; 0: never",
    )
    time_limit_seconds: int = Field(
        DEFAULT_TIME_LIMIT_SECONDS,
        ge=60,
        le=MAX_TIME_LIMIT_SECONDS,
        description="The run is stopped and failed when it runs longer",
    )
    selection_metric: str | None = Field(
        None,
        pattern=METRIC_PATTERN,
        description="Metric the new version must beat the production version on (default mAP50-95 for "
        "detect, mask_mAP50-95 for segment, accuracy for classify)",
    )
    auto_promote: bool = Field(
        False, description="Move production too, not only staging, when the new version is better"
    )
    notes: str = Field("", max_length=4000)

    @field_validator("architecture")
    @classmethod
    def _yaml_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.endswith(".pt"):
            raise ValueError(
                "give a model YAML (yolo11n.yaml) to train from scratch, or base_model and base_version "
                "to fine-tune registered weights; .pt downloads are not allowed"
            )
        return value if value.endswith((".yaml", ".yml")) else f"{value}.yaml"

    @field_validator("imgsz")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value % 32:
            raise ValueError(f"must be a multiple of 32 (the largest model stride); {value} is not")
        return value

    @model_validator(mode="after")
    def _one_starting_point(self) -> TrainingRunCreate:
        if (self.base_model is None) != (self.base_version is None):
            raise ValueError("give base_model and base_version together")
        if (self.architecture is None) == (self.base_model is None):
            raise ValueError(
                "give exactly one starting point: architecture (train from scratch) or "
                "base_model + base_version (fine-tune)"
            )
        return self


class EpochProgress(BaseModel):
    """One finished epoch, as the worker reports it."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "epoch": 3,
                    "epochs": 50,
                    "losses": {"box_loss": 1.21, "cls_loss": 0.98, "dfl_loss": 1.05},
                    "metrics": {"mAP50": 0.41, "mAP50-95": 0.22, "precision": 0.6, "recall": 0.5},
                    "elapsed_s": 95.2,
                    "eta_s": 1491.0,
                    "attempt": 1,
                }
            ]
        }
    )

    epoch: int = Field(ge=1, le=1000, description="1-based")
    epochs: int = Field(ge=1, le=1000, description="Planned epochs")
    losses: dict[str, float | None] = Field(default_factory=dict)
    metrics: dict[str, float | None] = Field(default_factory=dict, description="Validation metrics")
    elapsed_s: float = Field(ge=0, description="Seconds since training started")
    eta_s: float | None = Field(None, ge=0, description="Estimated seconds left")
    attempt: int | None = Field(
        None, ge=1, description="The attempt reporting; a superseded one is told to stop"
    )

    _numbers = field_validator("losses", "metrics")(_finite_numbers)


class EpochRecord(EpochProgress):
    """An epoch as the registry keeps it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EPOCH_RECORD_EXAMPLE]})

    attempt: int | None = None
    at: datetime


class RunStart(BaseModel):
    worker: str = Field(min_length=1, max_length=200, description="Celery node name")
    task_id: str = Field(min_length=1, max_length=200, description="Celery task id")


class RunHeartbeat(BaseModel):
    attempt: int | None = Field(None, ge=1)


class RunControl(BaseModel):
    """The registry's answer to a progress report or heartbeat."""

    status: RunStatus
    cancel_requested: bool
    stop: bool = Field(
        description="Stop at the end of this epoch: cancel was requested, the run is no longer running "
        "(failed by the sweeper), or a newer attempt took it over"
    )
    reason: str = ""


class RunFinish(BaseModel):
    """How a run ended, sent once by the worker."""

    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "status": "succeeded",
                    "model_version": 4,
                    "evaluation": {
                        "split": "test",
                        "challenger": {"version": 4, "metrics": {"mAP50": 0.81, "mAP50-95": 0.55}},
                        "champion": {"version": 3, "metrics": {"mAP50": 0.78, "mAP50-95": 0.52}},
                    },
                    "artifacts": {"best.pt": "runs/<run id>/best.pt"},
                    "metrics": {"mAP50": 0.81, "mAP50-95": 0.55},
                }
            ]
        },
    )

    status: FinishStatus
    error: str = Field("", max_length=8000)
    evaluation: dict[str, Any] = Field(
        default_factory=dict,
        description='{"split": ..., "challenger": {"metrics": {...}}, "champion": {"version": n, '
        '"metrics": {...}} | null}',
    )
    model_version: int | None = Field(None, ge=1, le=MAX_VERSION, description="The version it registered")
    artifacts: dict[str, str] = Field(default_factory=dict, description="name → key in the models bucket")
    metrics: dict[str, Any] = Field(default_factory=dict, description="Final metrics of the run")
    attempt: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _version_when_succeeded(self) -> RunFinish:
        if self.status == "succeeded" and self.model_version is None:
            raise ValueError("a succeeded run names the model_version it registered")
        if len(self.artifacts) > MAX_NUMBERS:
            raise ValueError(f"at most {MAX_NUMBERS} artifacts")
        return self


class TrainingRunOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "id": _RUN_ID,
                    "kind": "train",
                    "status": "succeeded",
                    "task": "detect",
                    "model_name": "bench-tools",
                    "dataset": "bench-tools",
                    "dataset_version": 4,
                    "dataset_version_id": "1e5b9d2f-7c3a-4e84-a6f0-8b2d4f6a8c13",
                    "architecture": None,
                    "base_model": "bench-tools",
                    "base_version": 3,
                    "base_weights_key": "runs/e7b4c2d9-1a3f-4e56-9b08-2d4f6a8c0e19/best.pt",
                    "source_key": None,
                    "source_sha256": None,
                    "epochs": 20,
                    "imgsz": 640,
                    "batch": 16,
                    "seed": 0,
                    "patience": 50,
                    "time_limit_seconds": DEFAULT_TIME_LIMIT_SECONDS,
                    "selection_metric": "mAP50-95",
                    "auto_promote": False,
                    "notes": "fine-tuned on week 12 feedback",
                    "progress": _EPOCH_RECORD_EXAMPLE,
                    "epochs_done": 20,
                    "attempt": 1,
                    "worker": "celery@training-1",
                    "task_id": "b1e0c6c2-8f0e-4a3b-9d8e-6a2f4c1d3e57",
                    "heartbeat_at": "2026-11-22T08:58:40Z",
                    "cancel_requested": False,
                    "error": "",
                    "evaluation": {
                        "split": "test",
                        "images": 41,
                        "challenger": {"version": 4, "metrics": {"mAP50": 0.81, "mAP50-95": 0.55}},
                        "champion": {"version": 3, "metrics": {"mAP50": 0.78, "mAP50-95": 0.52}},
                    },
                    "metrics": {"mAP50": 0.81, "mAP50-95": 0.55, "precision": 0.83, "recall": 0.72},
                    "model_version": 4,
                    "staged": True,
                    "promoted": False,
                    "decision": "mAP50-95 0.55 > 0.52 of production v3 on test",
                    "artifacts": {"best.pt": f"runs/{_RUN_ID}/best.pt"},
                    "created_by": "anna (0b5d7f91-3c2e-4a68-9d10-4f6b8d0a2c53)",
                    "created_at": "2026-11-22T08:47:30Z",
                    "started_at": "2026-11-22T08:48:00Z",
                    "finished_at": "2026-11-22T09:02:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    kind: RunKind
    status: RunStatus
    task: DatasetTask
    model_name: str
    dataset: str | None
    dataset_version: int | None
    dataset_version_id: uuid.UUID | None
    architecture: str | None
    base_model: str | None
    base_version: int | None
    base_weights_key: str | None = Field(description="PyTorch weights to start from, in the models bucket")
    source_key: str | None = Field(description="convert runs: the uploaded .pt in the models bucket")
    source_sha256: str | None
    epochs: int | None
    imgsz: int | None
    batch: int | None
    seed: int | None
    patience: int | None
    time_limit_seconds: int
    selection_metric: str
    auto_promote: bool
    notes: str
    progress: EpochRecord | None = Field(description="The latest epoch")
    epochs_done: int
    attempt: int
    worker: str | None
    task_id: str | None
    heartbeat_at: datetime | None
    cancel_requested: bool
    error: str
    evaluation: dict[str, Any]
    metrics: dict[str, Any]
    model_version: int | None
    staged: bool
    promoted: bool
    decision: str = Field(description="Why the new version was or was not staged")
    artifacts: dict[str, str]
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
