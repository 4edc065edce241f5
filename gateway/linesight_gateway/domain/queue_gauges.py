"""The gauges that need the database (pending inspections, the label review queue, each station's last
inspection), counted every few seconds in the background so a scrape never waits on a query.

Each query is answered from an index: the partial pending index, (station_id, created_at) read backwards
once per station, and (status, created_at) of the label reads."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

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


def refresh(session_factory: sessionmaker[Session]) -> None:
    with session_factory() as session:
        pending = {name: (count, age) for name, count, age in session.execute(PENDING)}
        last = list(session.execute(LAST_INSPECTION))
        depth, oldest = session.execute(REVIEW_QUEUE).one()
    # clear() first drops deleted or deactivated stations; every active station gets a 0 pending
    metrics.PENDING_INSPECTIONS.clear()
    metrics.PENDING_OLDEST_AGE.clear()
    metrics.LAST_INSPECTION.clear()
    for name, at in last:
        count, age = pending.pop(name, (0, 0.0))
        metrics.PENDING_INSPECTIONS.labels(name).set(count)
        metrics.PENDING_OLDEST_AGE.labels(name).set(float(age))
        if at is not None:
            metrics.LAST_INSPECTION.labels(name).set(float(at))
    for name, (count, age) in pending.items():  # an inactive station's photos still wait
        metrics.PENDING_INSPECTIONS.labels(name).set(count)
        metrics.PENDING_OLDEST_AGE.labels(name).set(float(age))
    metrics.REVIEW_QUEUE_DEPTH.set(depth)
    metrics.REVIEW_QUEUE_OLDEST_AGE.set(float(oldest))
    metrics.GAUGES_REFRESHED.set(time.time())


async def run_queue_gauges(session_factory: sessionmaker[Session], *, interval: float) -> None:
    while True:
        try:
            await run_in_threadpool(refresh, session_factory)
        except asyncio.CancelledError:
            raise
        except Exception:
            # the gauges keep their last values; linesight_gateway_queue_gauges_refreshed_... tells how old
            log.exception("refreshing the queue gauges failed")
        await asyncio.sleep(interval)
