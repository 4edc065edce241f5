"""Request and answer bodies of the replay endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from linesight_core.contracts.registry import MAX_VERSION, NAME_PATTERN
from linesight_gateway.db.models import ReplayJob

MAX_LAST_N = 5000

_JOB_ID = "3f0c6a1e-2b4d-4c8e-9a7f-5d6e7f8a9b0c"
_STATION_ID = "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d"
_INSPECTION_ID = "0b7e2f4a-6c1d-4e9f-8a3b-2c5d7e9f1a4b"


class ReplayIn(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"model": "bench-tools", "version": 4, "last_n": 200},
                {"model": "bench-tools", "version": 4, "since": "2026-11-01T00:00:00Z"},
            ]
        },
    )

    model: str = Field(pattern=NAME_PATTERN, description="The registry model of the version to replay")
    version: int = Field(ge=1, le=MAX_VERSION, description="The version to replay")
    last_n: int | None = Field(
        None, ge=1, le=MAX_LAST_N, description="The station's last N verified inspections (not with since)"
    )
    since: datetime | None = Field(None, description="Verified inspections made at or after this time")
    until: datetime | None = Field(None, description="... and before this time (default: now)")

    @model_validator(mode="after")
    def _one_selection(self) -> ReplayIn:
        window = self.since is not None or self.until is not None
        if self.last_n is not None and window:
            raise ValueError("give last_n or a time window (since / until), not both")
        if self.last_n is None and not window:
            raise ValueError("say which inspections to replay: last_n, or since (and optionally until)")
        if self.since is not None and self.until is not None and self.until <= self.since:
            raise ValueError("until must be after since")
        return self

    def selection(self) -> dict[str, Any]:
        if self.last_n is not None:
            return {"last_n": self.last_n}
        return {
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


class VersionRef(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    version: int
    alias: str | None = Field(None, description="The station's alias this version served (production side)")


class Progress(BaseModel):
    done: int
    total: int


_FIGURES = {
    "verified": 3,
    "verdict_accuracy": 0.6667,
    "truly_nok": 1,
    "truly_ok": 2,
    "nok_recall": 1.0,
    "false_nok_rate": 0.5,
    "counting_accuracy": {"tape": 1.0, "wrench": 0.6667},
    "all_counts_accuracy": 0.6667,
}
_JOB_EXAMPLE = {
    "id": _JOB_ID,
    "station_id": _STATION_ID,
    "candidate": {"model_name": "bench-tools", "version": 4, "alias": None},
    "production": {"model_name": "bench-tools", "version": 3, "alias": "production"},
    "task": "detect",
    "status": "completed",
    "selection": {"last_n": 200},
    "progress": {"done": 3, "total": 3},
    "result": {
        "replayed": 3,
        "skipped": 0,
        "skipped_items": [],
        "classes": ["tape", "wrench"],
        "candidate": _FIGURES,
        "production": _FIGURES,
        "disagreement_count": 1,
        "disagreements": [
            {
                "inspection_id": _INSPECTION_ID,
                "created_at": "2026-11-30T08:12:03+00:00",
                "truth": {"verdict": "NOK", "counts": {"wrench": 0, "tape": 1}},
                "candidate": {
                    "verdict": "NOK",
                    "confidence": 0.93,
                    "counts": {"tape": 1},
                    "boxes": [
                        {"label": "tape", "confidence": 0.93, "x1": 40, "y1": 52, "x2": 118, "y2": 130}
                    ],
                },
                "production": {
                    "verdict": "OK",
                    "confidence": 0.61,
                    "counts": {"tape": 1, "wrench": 1},
                    "boxes": [
                        {"label": "tape", "confidence": 0.9, "x1": 41, "y1": 50, "x2": 117, "y2": 131},
                        {"label": "wrench", "confidence": 0.61, "x1": 160, "y1": 20, "x2": 260, "y2": 64},
                    ],
                },
            }
        ],
    },
    "error": None,
    "cancel_requested": False,
    "created_by": "engineer-key",
    "created_at": "2026-12-01T10:00:00Z",
    "started_at": "2026-12-01T10:00:01Z",
    "finished_at": "2026-12-01T10:00:09Z",
}


class ReplayJobOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=(), json_schema_extra={"examples": [_JOB_EXAMPLE]})

    id: str
    station_id: str
    candidate: VersionRef = Field(description="The version replayed")
    production: VersionRef = Field(description="The station's version when the replay was asked for")
    task: Literal["detect", "classify"]
    status: Literal["queued", "running", "completed", "failed", "cancelled"]
    selection: dict[str, Any]
    progress: Progress
    result: dict[str, Any] | None = Field(
        description="The report once completed (or the part replayed before a cancel): for each side "
        "verdict_accuracy, nok_recall, false_nok_rate and counting_accuracy per class (detect) or "
        "class_accuracy (classify), against the operators' feedback; the disagreements with both answers"
    )
    error: str | None = Field(description="Why the replay failed")
    cancel_requested: bool
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ReplayPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_JOB_EXAMPLE], "total": 1, "limit": 50, "offset": 0}]}
    )

    items: list[ReplayJobOut]
    total: int
    limit: int
    offset: int


def job_out(job: ReplayJob) -> ReplayJobOut:
    return ReplayJobOut(
        id=str(job.id),
        station_id=str(job.station_id),
        candidate=VersionRef(model_name=job.model_name, version=job.model_version),
        production=VersionRef(
            model_name=job.baseline_name, version=job.baseline_version, alias=job.baseline_alias
        ),
        task=job.task,  # type: ignore[arg-type]
        status=job.status,  # type: ignore[arg-type]
        selection=job.selection,
        progress=Progress(done=job.done, total=job.total),
        result=job.result,
        error=job.error,
        cancel_requested=job.cancel_requested,
        created_by=job.created_by_name,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )
