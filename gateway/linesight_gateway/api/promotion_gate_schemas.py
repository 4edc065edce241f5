"""Request and answer bodies of the promotion gate endpoints and of a gated alias move."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from linesight_core.contracts.registry import AliasMove
from linesight_gateway.api.replay_schemas import MAX_LAST_N
from linesight_gateway.db.models import PromotionGate

MAX_GATED_STATIONS = 100

MinVerified = Field(
    None,
    ge=1,
    le=MAX_LAST_N,
    description="Verified inspections the version's replay must have replayed at each gated station "
    "(default: the gateway's LINESIGHT_PROMOTION_GATE_MIN_VERIFIED)",
)


class StationGateIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"min_verified": 50}]})

    min_verified: int | None = MinVerified


class ModelGateIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"min_verified": 50},
                {"min_verified": 30, "stations": ["8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d"]},
            ]
        },
    )

    min_verified: int | None = MinVerified
    stations: list[uuid.UUID] | None = Field(
        None,
        min_length=1,
        max_length=MAX_GATED_STATIONS,
        description="The stations whose replays judge the model's versions; leave out for every station "
        "that serves the model's production (now and later)",
    )


class GateOut(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    station_id: uuid.UUID | None = Field(description="None: every station serving the model's production")
    min_verified: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class JudgedStation(BaseModel):
    station_id: uuid.UUID
    station: str
    min_verified: int


class ModelGateOut(BaseModel):
    model_config = ConfigDict(
        protected_namespaces=(),
        json_schema_extra={
            "examples": [
                {
                    "model_name": "bench-tools",
                    "gated": True,
                    "gates": [
                        {
                            "model_name": "bench-tools",
                            "station_id": None,
                            "min_verified": 50,
                            "created_by": "admin",
                            "created_at": "2026-12-03T10:00:00Z",
                            "updated_at": "2026-12-03T10:00:00Z",
                        }
                    ],
                    "judged_by": [
                        {
                            "station_id": "8c1d2b55-9a0e-4f51-8a21-0e3f4a5b6c7d",
                            "station": "line3-bench",
                            "min_verified": 50,
                        }
                    ],
                }
            ]
        },
    )

    model_name: str
    gated: bool
    gates: list[GateOut]
    judged_by: list[JudgedStation] = Field(
        description="The stations a promotion of the model is judged by now (those serving its production)"
    )


class GatedAliasMove(AliasMove):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"version": 4, "reason": "replay at line 3 is better"},
                {
                    "version": 4,
                    "reason": "hotfix",
                    "override_reason": "line 3 is down; the new camera makes the old history unfair",
                },
            ]
        },
    )

    override_reason: str | None = Field(
        None,
        min_length=3,
        max_length=2000,
        description="Admins only: move production although the promotion gate refuses it; the reason and "
        "the gate's figures go to the audit log",
    )


def gate_out(gate: PromotionGate) -> GateOut:
    return GateOut(
        model_name=gate.model_name,
        station_id=gate.station_id,
        min_verified=gate.min_verified,
        created_by=gate.created_by_name,
        created_at=gate.created_at,
        updated_at=gate.updated_at,
    )
