"""The health of the whole system as the gateway reports it (and the UI shows it)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel


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
    services: list[ServiceStatus]
    checked_at: datetime

    @property
    def ready_count(self) -> int:
        return sum(1 for s in self.services if s.status == "ready")
