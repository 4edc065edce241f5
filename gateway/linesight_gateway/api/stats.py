"""Station statistics: volume, NOK rate, confidence distribution, verdicts per day, and the accuracy of
each model version measured from operators' feedback."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Date, case, cast, func, select

from linesight_gateway.api.deps import SessionDep, Viewer
from linesight_gateway.db.models import Feedback, Inspection
from linesight_gateway.domain.station_scope import require_station
from linesight_gateway.domain.stations import get_station

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])


class VersionAccuracy(BaseModel):
    model_version: int
    inspections: int
    nok_rate: float | None
    with_feedback: int
    correct: int
    accuracy: float | None = Field(description="correct / with_feedback; null without feedback")


class DayCount(BaseModel):
    day: str
    ok: int
    nok: int
    pending: int


class StationStats(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "station_id": "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d",
                    "inspections": 1280,
                    "completed": 1276,
                    "pending": 4,
                    "ok": 1153,
                    "nok": 123,
                    "nok_rate": 0.0964,
                    "confidence": {"success": 1190, "low_confidence": 61, "rejected": 25},
                    "per_model_version": [
                        {
                            "model_version": 3,
                            "inspections": 1100,
                            "nok_rate": 0.1018,
                            "with_feedback": 212,
                            "correct": 190,
                            "accuracy": 0.8962,
                        },
                        {
                            "model_version": 4,
                            "inspections": 176,
                            "nok_rate": 0.0625,
                            "with_feedback": 30,
                            "correct": 29,
                            "accuracy": 0.9667,
                        },
                    ],
                    "per_day": [
                        {"day": "2026-11-21", "ok": 402, "nok": 41, "pending": 0},
                        {"day": "2026-11-22", "ok": 388, "nok": 35, "pending": 4},
                    ],
                }
            ]
        }
    )

    station_id: uuid.UUID
    inspections: int
    completed: int
    pending: int
    ok: int
    nok: int
    nok_rate: float | None
    confidence: dict[str, int]
    per_model_version: list[VersionAccuracy]
    per_day: list[DayCount]


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@router.get("/{station_id}/stats", response_model=StationStats, summary="Statistics of a station")
def station_stats(
    station_id: uuid.UUID,
    principal: Viewer,
    session: SessionDep,
    since: datetime | None = None,
    until: datetime | None = None,
) -> StationStats:
    require_station(principal, station_id)
    get_station(session, station_id)
    where = [Inspection.station_id == station_id]
    if since:
        where.append(Inspection.created_at >= since)
    if until:
        where.append(Inspection.created_at < until)
    is_ok = case((Inspection.verdict == "OK", 1), else_=0)
    is_nok = case((Inspection.verdict == "NOK", 1), else_=0)
    is_pending = case((Inspection.status == "pending", 1), else_=0)
    total, ok, nok, pending = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(is_ok), 0),
            func.coalesce(func.sum(is_nok), 0),
            func.coalesce(func.sum(is_pending), 0),
        ).where(*where)
    ).one()
    confidence = {"success": 0, "low_confidence": 0, "rejected": 0}
    for status, n in session.execute(
        select(Inspection.confidence_status, func.count())
        .where(*where, Inspection.confidence_status.is_not(None))
        .group_by(Inspection.confidence_status)
    ):
        confidence[status] = n
    versions = []
    for version, n, n_nok, n_fb, n_correct in session.execute(
        select(
            Inspection.model_version,
            func.count(),
            func.coalesce(func.sum(is_nok), 0),
            func.count(Feedback.inspection_id),
            func.coalesce(func.sum(case((Feedback.correct.is_(True), 1), else_=0)), 0),
        )
        .outerjoin(Feedback, Feedback.inspection_id == Inspection.id)
        .where(*where, Inspection.model_version.is_not(None))
        .group_by(Inspection.model_version)
        .order_by(Inspection.model_version)
    ):
        versions.append(
            VersionAccuracy(
                model_version=version,
                inspections=n,
                nok_rate=_rate(n_nok, n),
                with_feedback=n_fb,
                correct=n_correct,
                accuracy=_rate(n_correct, n_fb),
            )
        )
    day = cast(Inspection.created_at, Date)
    per_day = [
        DayCount(day=d.isoformat(), ok=o, nok=k, pending=p)
        for d, o, k, p in session.execute(
            select(day, func.sum(is_ok), func.sum(is_nok), func.sum(is_pending))
            .where(*where)
            .group_by(day)
            .order_by(day)
        )
    ]
    completed = total - pending
    return StationStats(
        station_id=station_id,
        inspections=total,
        completed=completed,
        pending=pending,
        ok=ok,
        nok=nok,
        nok_rate=_rate(nok, completed),
        confidence=confidence,
        per_model_version=versions,
        per_day=per_day,
    )
