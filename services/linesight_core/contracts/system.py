"""The health of the whole system as the gateway reports it (and the UI shows it)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class CheckResult(BaseModel):
    ok: bool
    ms: float | None = None
    error: str = ""


class ServiceStatus(BaseModel):
    name: str
    url: str
    status: Literal["ready", "not_ready", "unreachable"]
    detail: str = ""
    checks: dict[str, CheckResult] = {}
    latency_ms: float | None = None

    @property
    def failing_checks(self) -> dict[str, str]:
        return {name: check.error or "did not answer" for name, check in self.checks.items() if not check.ok}


class ServicesStatus(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "services": [
                        {
                            "name": "gateway",
                            "url": "http://localhost:8000",
                            "status": "ready",
                            "detail": "",
                            "checks": {
                                "database": {"ok": True, "ms": 1.4, "error": ""},
                                "object_store": {"ok": True, "ms": 3.2, "error": ""},
                            },
                        },
                        {
                            "name": "registry",
                            "url": "http://registry:8003",
                            "status": "ready",
                            "detail": "",
                            "checks": {"database": {"ok": True, "ms": 1.1, "error": ""}},
                            "latency_ms": 6.8,
                        },
                        {
                            "name": "inference",
                            "url": "http://inference:8001",
                            "status": "unreachable",
                            "detail": "ConnectError: All connection attempts failed",
                            "checks": {},
                        },
                    ],
                    "checked_at": "2026-11-22T10:00:00Z",
                }
            ]
        }
    )

    services: list[ServiceStatus]
    checked_at: datetime

    @property
    def ready_count(self) -> int:
        return sum(1 for s in self.services if s.status == "ready")
