"""Bodies of the inspections API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from linesight_gateway.db.models import Inspection
from linesight_gateway.domain.access import Principal, Role
from linesight_gateway.domain.unusual import UnusualReason


class ModelRef(BaseModel):
    name: str
    alias: str
    version: int | None = Field(description="The version that answered; null while pending")
    sha256: str | None


class InspectionOut(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "id": "1f0c2a9e-4a51-4b8e-9d6a-3b5c0c1e2f10",
                    "station_id": "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d",
                    "status": "completed",
                    "verdict": "NOK",
                    "confidence": 0.93,
                    "confidence_status": "success",
                    "counts": {"wrench": 1},
                    "missing": [{"label": "screwdriver", "expected": 2, "found": 0}],
                    "unexpected": [],
                    "predictions": [
                        {
                            "label": "wrench",
                            "class_id": 0,
                            "confidence": 0.91,
                            "box": {"x1": 34.5, "y1": 80.2, "x2": 75.0, "y2": 181.9},
                        }
                    ],
                    "unusual": [],
                    "model": {
                        "name": "bench-tools",
                        "alias": "production",
                        "version": 3,
                        "sha256": "904cb1c3b85f864a9b4f43b3f59e11d44b7ce7921fe877926553eb0845e211e8",
                    },
                    "image": {
                        "width": 640,
                        "height": 480,
                        "sha256": "9b73ce2e5c72e9c8eb35ae3f509ef901b26ed3e9811f0782f3633cceab140918",
                        "faces_blurred": 0,
                        "people_blurred": 0,
                    },
                    "timings_ms": {"decode": 4.1, "store": 6.3, "inference": 21.0, "total": 34.2},
                    "error": None,
                    "attempts": 0,
                    "created_at": "2026-11-22T10:00:00Z",
                    "completed_at": "2026-11-22T10:00:00Z",
                }
            ]
        },
    )

    id: uuid.UUID
    station_id: uuid.UUID
    status: Literal["completed", "pending"]
    verdict: Literal["OK", "NOK"] | None
    confidence: float | None
    confidence_status: Literal["success", "low_confidence", "rejected"] | None
    counts: dict[str, int]
    missing: list[dict[str, Any]]
    unexpected: list[dict[str, Any]]
    predictions: list[dict[str, Any]] = Field(
        description="Detections (best first), top classes, or (segment stations) the instances best "
        "first: label, class_id, confidence, box, polygon ([x, y] in photo pixels), area_px, length_px"
    )
    failed_rules: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Segment stations: the defect rules that failed: label, rule (count, largest_area, "
        "total_area_percent, length), value, limit, unit (px, mm, px², mm², %; null for count) and text "
        '("crack 7.2 mm > 5 mm")',
    )
    defects: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Segment stations: the counted instances of defect classes as measured: label, "
        "confidence, area and length (in the rule's unit: px or mm, area squared), unit, inside_roi "
        "(false: outside the region of interest, ignored by the rules)",
    )
    unusual: list[UnusualReason] = Field(
        default_factory=list,
        description="Why the photo is unlike the station's recent accepted photos or its reference photo "
        "(empty: nothing unusual). With the station's `unusual_needs_review`, a flagged `success` answer "
        "becomes `low_confidence`.",
    )
    model: ModelRef
    image: dict[str, Any]
    timings_ms: dict[str, Any]
    error: str | None = Field(description="Why the model could not answer yet (pending inspections)")
    attempts: int
    created_at: datetime
    completed_at: datetime | None
    shadow: dict[str, Any] | None = Field(
        None,
        description="Engineers only (null for other roles): the answer of the station's shadow version, "
        "given after the live answer was returned and never changing the verdict: model, alias, version, "
        "outcome (agree, disagree with the live answer, or failed), verdict, confidence, counts or class, "
        "predictions, latency_ms, error (when failed), answered_at. Null while none was given (shadow off, "
        "not yet answered, or dropped because the shadow queue was full).",
    )


class InspectionPage(BaseModel):
    items: list[InspectionOut]
    total: int
    limit: int
    offset: int


def inspection_out(i: Inspection, principal: Principal) -> InspectionOut:
    """The shadow version's answer is for engineers: operators and viewers see only the live one."""
    return InspectionOut(
        id=i.id,
        station_id=i.station_id,
        status=i.status,
        verdict=i.verdict,  # type: ignore[arg-type]
        confidence=i.confidence,
        confidence_status=i.confidence_status,  # type: ignore[arg-type]
        counts=i.counts,
        missing=i.missing,
        unexpected=i.unexpected,
        predictions=i.predictions,
        failed_rules=i.failed_rules or [],
        defects=i.defects or [],
        unusual=i.unusual or [],
        model=ModelRef(
            name=i.model_name, alias=i.model_alias, version=i.model_version, sha256=i.model_sha256
        ),
        image={
            "width": i.image_width,
            "height": i.image_height,
            "sha256": i.image_sha256,
            "faces_blurred": i.faces_blurred,
            "people_blurred": i.people_blurred,
        },
        timings_ms=i.timings_ms,
        error=i.error,
        attempts=i.attempts,
        created_at=i.created_at,
        completed_at=i.completed_at,
        shadow=i.shadow if principal.role.allows(Role.engineer) else None,
    )
