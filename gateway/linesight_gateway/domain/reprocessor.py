"""Completes pending inspections once the model answers again. Runs in every gateway replica; rows are
claimed with SKIP LOCKED so two replicas never work on the same inspection."""

from __future__ import annotations

import logging

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from linesight_core.background import run_every
from linesight_core.clients.inference import InferenceClient
from linesight_core.storage import ObjectNotFound, ObjectStore
from linesight_gateway.domain import inspections as domain
from linesight_gateway.domain.training_baselines import TrainingBaselines

log = logging.getLogger(__name__)


async def reprocess_once(
    session_factory: sessionmaker[Session],
    store: ObjectStore,
    bucket: str,
    inference: InferenceClient,
    *,
    batch: int,
    timeout: float,
    baselines: TrainingBaselines | None = None,
) -> int:
    """One round; returns how many pending inspections were completed."""
    done = 0
    for inspection_id in await run_in_threadpool(domain.claim_pending, session_factory, batch):
        session = session_factory()
        try:
            loaded = await run_in_threadpool(domain.load_with_station, session, inspection_id)
            if loaded is None:
                continue
            inspection, station = loaded
            try:
                data = await run_in_threadpool(store.get_bytes, bucket, inspection.image_key)
            except ObjectNotFound:
                domain.mark_failed_attempt(inspection, "the stored photo is missing from object storage")
                await run_in_threadpool(session.commit)
                continue
            prediction, error, infer_ms = await domain.ask_model(inference, data, station, timeout)
            history = (
                await run_in_threadpool(domain.recent_signals, session, station.id)
                if prediction is not None
                else None
            )
            completed = domain.record_answer(
                inspection,
                station,
                prediction,
                error,
                timings={"inference": round(infer_ms, 2), "reprocessed": 1},
                history=history,
                baselines=baselines,
            )
            done += completed
            await run_in_threadpool(session.commit)
        finally:
            session.close()
    return done


async def run_reprocessor(
    session_factory: sessionmaker[Session],
    store: ObjectStore,
    bucket: str,
    inference: InferenceClient,
    *,
    interval: float,
    batch: int,
    timeout: float,
    baselines: TrainingBaselines | None = None,
) -> None:
    async def one_round() -> None:
        done = await reprocess_once(
            session_factory, store, bucket, inference, batch=batch, timeout=timeout, baselines=baselines
        )
        if done:
            log.info("pending inspections completed", extra={"count": done})

    await run_every("reprocessor", interval, one_round, failed="reprocessing round failed", logger=log)
