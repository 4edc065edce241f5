"""How many training runs may start: at most N per station and M in all in any hour, counted from the
audit log's `training_run.create` events (engineers' runs and those a station's policy started).

Feedback can be given by any operator, and with auto-promotion a run can move production: the limit
bounds how fast anyone can push data through training. Two gateway replicas checking at the same moment
can each start one run past the overall limit; per station, the station row is locked meanwhile."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from linesight_gateway.db.models import AuditEvent

START_ACTION = "training_run.create"
WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class RunLimits:
    per_station_per_hour: int = 3
    per_hour: int = 12


@dataclass(frozen=True)
class Refusal:
    reason: str
    retry_at: datetime | None  # None: the limit is 0, runs are switched off

    def retry_after_seconds(self) -> int:
        if self.retry_at is None:
            return int(WINDOW.total_seconds())
        return max(1, int((self.retry_at - datetime.now(UTC)).total_seconds()) + 1)


def _check(starts: list[datetime], limit: int, what: str, setting: str) -> Refusal | None:
    if len(starts) < limit:
        return None
    if limit == 0:
        return Refusal(f"Training runs {what} are switched off ({setting}=0).", None)
    # The slot frees when the oldest start that keeps the count at the limit leaves the window.
    retry_at = starts[len(starts) - limit] + WINDOW
    return Refusal(
        f"{len(starts)} training runs started {what} in the last hour; the limit is {limit} per hour "
        f"({setting}). The next can start at {retry_at:%Y-%m-%d %H:%M:%S} UTC.",
        retry_at,
    )


def refusal(session: Session, limits: RunLimits, station_id: uuid.UUID | None = None) -> Refusal | None:
    """Why a run cannot start now (overall, then the station's own limit), or None when it can."""
    since = datetime.now(UTC) - WINDOW
    recent = select(AuditEvent.at).where(AuditEvent.action == START_ACTION, AuditEvent.at > since)
    overall = list(session.scalars(recent.order_by(AuditEvent.at)))
    found = _check(overall, limits.per_hour, "in all", "LINESIGHT_TRAINING_RUNS_PER_HOUR")
    if found or station_id is None:
        return found
    mine = list(
        session.scalars(
            recent.where(AuditEvent.details["station_id"].astext == str(station_id)).order_by(AuditEvent.at)
        )
    )
    return _check(
        mine, limits.per_station_per_hour, "by this station", "LINESIGHT_TRAINING_RUNS_PER_STATION_PER_HOUR"
    )
