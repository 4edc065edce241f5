"""Shadow mode's figures of a station (engineers): agreement of the shadow version with the live answers,
and the accuracy of each on the inspections operators verified."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from linesight_gateway.api.deps import Engineer, SessionDep
from linesight_gateway.domain import shadow_report
from linesight_gateway.domain.station_scope import require_station
from linesight_gateway.domain.stations import get_station

router = APIRouter(prefix="/api/v1/stations", tags=["stations"])


_FIGURES = {
    "verified": 212,
    "verdict_accuracy": 0.9575,
    "truly_nok": 24,
    "truly_ok": 188,
    "nok_recall": 0.875,
    "false_nok_rate": 0.016,
    "counting_accuracy": {"screwdriver": 0.9623, "wrench": 0.9811},
    "all_counts_accuracy": 0.9481,
}


class ShadowReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "station_id": "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d",
                    "station": "line-3-bench",
                    "model_name": "bench-tools",
                    "live_alias": "production",
                    "shadow_alias": "staging",
                    "inspections": 1000,
                    "answered": 996,
                    "agree": 961,
                    "disagree": 35,
                    "agreement": 0.9649,
                    "failed": 4,
                    "last_error": "504: inference did not answer in time.",
                    "versions": [
                        {
                            "shadow_version": 4,
                            "live_versions": [3],
                            "answered": 996,
                            "agree": 961,
                            "disagree": 35,
                            "agreement": 0.9649,
                            "verified": 212,
                            "live": _FIGURES,
                            "shadow": _FIGURES | {"verdict_accuracy": 0.9717, "nok_recall": 0.9167},
                            "disagreements": [
                                {
                                    "inspection_id": "1f0c2a9e-4a51-4b8e-9d6a-3b5c0c1e2f10",
                                    "created_at": "2026-11-22T10:00:00+00:00",
                                    "live": {"verdict": "OK", "counts": {"wrench": 1, "screwdriver": 2}},
                                    "shadow": {
                                        "verdict": "NOK",
                                        "confidence": 0.81,
                                        "counts": {"wrench": 1, "screwdriver": 1},
                                        "class": None,
                                    },
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    station_id: uuid.UUID
    station: str
    model_name: str
    live_alias: str
    shadow_alias: str | None = Field(description="The alias answering in the shadow now; null: off")
    inspections: int = Field(description="Inspections in the period with a shadow answer or failure")
    answered: int
    agree: int
    disagree: int
    agreement: float | None = Field(description="agree / answered; null when none answered")
    failed: int = Field(description="Shadow answers that failed (version not loadable, timed out, ...)")
    last_error: str | None
    versions: list[dict[str, Any]] = Field(
        description="Per shadow version (newest first): answered, agree, disagree, agreement, verified "
        "(with operator feedback), `live` and `shadow` figures against the operators' truth (verdict "
        "accuracy, NOK recall, false-NOK rate, counting or class accuracy, as a replay reports them), and "
        "the latest disagreements with both answers"
    )


@router.get(
    "/{station_id}/shadow",
    response_model=ShadowReport,
    summary="Shadow mode: agreement with the live answers and the accuracy of each",
    description="Over the station's last `last_n` inspections with a shadow answer (in the time window if "
    "given). Photos dropped because the shadow queue was full are not here: see the metric "
    'linesight_gateway_shadow_answers_total{outcome="dropped"}.',
)
def station_shadow(
    station_id: uuid.UUID,
    principal: Engineer,
    session: SessionDep,
    since: datetime | None = None,
    until: datetime | None = None,
    last_n: int = Query(1000, ge=1, le=10_000),
) -> ShadowReport:
    require_station(principal, station_id)
    station = get_station(session, station_id)
    rows = shadow_report.shadowed(session, station.id, since=since, until=until, last_n=last_n)
    return ShadowReport.model_validate(shadow_report.report(station, rows))
