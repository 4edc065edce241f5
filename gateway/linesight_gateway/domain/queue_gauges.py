"""The gauges that need the database (pending inspections, the label review queue, each station's last
inspection), counted every few seconds in the background so a scrape never waits on a query.

Each query is answered from an index: the partial pending index, (station_id, created_at) read backwards
once per station, and (status, created_at) of the label reads."""

from __future__ import annotations

import logging
import time

from prometheus_client import Gauge
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from linesight_core.background import run_every
from linesight_gateway import metrics

log = logging.getLogger(__name__)

PENDING = text(
    """
    SELECT s.name, count(*), extract(epoch FROM now() - min(i.created_at))
    FROM gateway.inspections i JOIN gateway.stations s ON s.id = i.station_id
    WHERE i.status = 'pending'
    GROUP BY s.name
    """
)
LAST_INSPECTION = text(
    """
    SELECT s.name,
           extract(epoch FROM (SELECT i.created_at FROM gateway.inspections i
                               WHERE i.station_id = s.id ORDER BY i.created_at DESC LIMIT 1))
    FROM gateway.stations s WHERE s.active
    """
)
REVIEW_QUEUE = text(
    """
    SELECT count(*), coalesce(extract(epoch FROM now() - min(created_at)), 0)
    FROM gateway.label_reads WHERE status = 'needs_review'
    """
)


# the stations each gauge has a series for (prometheus_client does not list them publicly)
_stations: dict[Gauge, set[str]] = {}


def _replace(gauge: Gauge, values: dict[str, float]) -> None:
    """Set the gauge's stations to `values` and drop the others (deleted or deactivated stations). No
    clear() first: a scrape in between would see the series vanish, and Prometheus would mark it stale."""
    known = _stations.setdefault(gauge, set())
    for name in known - values.keys():
        gauge.remove(name)
    for name, value in values.items():
        gauge.labels(name).set(value)
    _stations[gauge] = set(values)


def refresh(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        pending = {name: (count, float(age)) for name, count, age in session.execute(PENDING)}
        last = list(session.execute(LAST_INSPECTION))
        depth, oldest = session.execute(REVIEW_QUEUE).one()
    # every active station gets a 0 pending; an inactive station's photos that still wait are kept too
    waiting = {name: pending.get(name, (0, 0.0)) for name, _ in last} | pending
    _replace(metrics.PENDING_INSPECTIONS, {name: count for name, (count, _) in waiting.items()})
    _replace(metrics.PENDING_OLDEST_AGE, {name: age for name, (_, age) in waiting.items()})
    _replace(metrics.LAST_INSPECTION, {name: float(at) for name, at in last if at is not None})
    metrics.REVIEW_QUEUE_DEPTH.set(depth)
    metrics.REVIEW_QUEUE_OLDEST_AGE.set(float(oldest))
    metrics.GAUGES_REFRESHED.set(time.time())


async def run_queue_gauges(session_factory: sessionmaker[Session], *, interval: float) -> None:
    async def one_round() -> None:
        await run_in_threadpool(refresh, session_factory)

    # on a failed round the gauges keep their last values; linesight_gateway_queue_gauges_refreshed_...
    # tells how old they are
    await run_every(
        "queue_gauges", interval, one_round, failed="refreshing the queue gauges failed", logger=log
    )
