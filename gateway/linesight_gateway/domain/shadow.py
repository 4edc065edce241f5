"""Shadow mode: a station's shadow version (another alias of its model, e.g. `staging`) answers each live
inspection after the live answer was returned, and that answer is kept with the inspection.

The live path only offers a job to `ShadowQueue` (never waits for it); a few workers ask the inference
service at `priority=replay`, so live images go first there, judge the answer by the station's rules as
they were at the inspection, compare it with the live answer and write it to the inspection's `shadow`.
The queue holds the photos in memory, bounded in count and bytes: when it is full a photo is dropped and
counted, so a flood of inspections cannot grow the gateway's memory. A shadow version that fails or is
slow costs only its own answer (recorded as `failed` with the error), never the live one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.inference import InferenceClient
from linesight_core.contracts.inference import Prediction, PredictParams
from linesight_gateway import metrics
from linesight_gateway.db.models import Feedback, Inspection, Station
from linesight_gateway.domain.inspections import confidence_floor, rules_of
from linesight_gateway.domain.replay_scoring import answer_of, same_answer, truth_of
from linesight_gateway.domain.verdict import StationRules, judge

log = logging.getLogger(__name__)

AGREE, DISAGREE, FAILED, DROPPED = "agree", "disagree", "failed", "dropped"
OUTCOMES = (AGREE, DISAGREE, FAILED, DROPPED)


@dataclass(frozen=True)
class ShadowJob:
    """What the shadow answer needs, copied off the request: the station may change meanwhile."""

    inspection_id: uuid.UUID
    station: str
    model_name: str
    alias: str
    rules: StationRules
    live: dict[str, Any]
    photo: bytes


def live_answer(inspection: Inspection, mode: str) -> dict[str, Any]:
    """The live answer in the shape `answer_of` gives a version's answer, to compare the two."""
    if mode == "classify":
        return {"verdict": inspection.verdict, "class": (inspection.predictions or [{}])[0].get("label")}
    return {"verdict": inspection.verdict, "counts": dict(inspection.counts or {})}


def job_for(inspection: Inspection, station: Station, photo: bytes) -> ShadowJob | None:
    """The shadow job of an inspection the live model answered at a station with a shadow alias."""
    if station.shadow_alias is None or inspection.status != "completed":
        return None
    return ShadowJob(
        inspection_id=inspection.id,
        station=station.name,
        model_name=station.model_name,
        alias=station.shadow_alias,
        rules=rules_of(station),
        live=live_answer(inspection, station.mode),
        photo=photo,
    )


def agrees(live: dict[str, Any], shadow: dict[str, Any], rules: StationRules) -> bool:
    """Same verdict, and the same count of every class either counted or the station expects (detect), or
    the same top class (classify)."""
    classes = set(rules.expected)
    for answer in (live, shadow):
        classes |= {k for k, v in answer.get("counts", {}).items() if v}
    return same_answer(live, shadow, sorted(classes))


def answered(job: ShadowJob, prediction: Prediction, latency_ms: float) -> dict[str, Any]:
    shadow = answer_of(prediction, job.rules)
    return {
        "model": prediction.model_name,
        "alias": job.alias,
        "version": prediction.version,
        "sha256": prediction.sha256,
        "outcome": AGREE if agrees(job.live, shadow, job.rules) else DISAGREE,
        **shadow,
        "predictions": judge(prediction, job.rules).top_predictions,
        "latency_ms": round(latency_ms, 2),
        "error": None,
        "answered_at": datetime.now(UTC).isoformat(),
    }


def failed(job: ShadowJob, error: str, latency_ms: float) -> dict[str, Any]:
    return {
        "model": job.model_name,
        "alias": job.alias,
        "version": None,
        "outcome": FAILED,
        "latency_ms": round(latency_ms, 2),
        "error": error[:1000],
        "answered_at": datetime.now(UTC).isoformat(),
    }


def count_feedback(station: Station, inspection: Inspection, feedback: Feedback) -> None:
    """First feedback on an inspection with a shadow answer: count whether each side's verdict was right."""
    record = inspection.shadow or {}
    if record.get("outcome") not in (AGREE, DISAGREE):
        return
    truth = truth_of(inspection, feedback, rules_of(station))["verdict"]
    metrics.record_shadow_feedback(station.name, "live", inspection.verdict == truth)
    metrics.record_shadow_feedback(station.name, "shadow", record.get("verdict") == truth)


@dataclass(frozen=True)
class ShadowConfig:
    concurrency: int
    max_items: int
    max_bytes: int
    timeout: float


class ShadowQueue:
    """Shadow jobs waiting for a worker, bounded in count and in bytes; and the workers."""

    def __init__(
        self, session_factory: sessionmaker[Session], inference: InferenceClient, config: ShadowConfig
    ) -> None:
        self.session_factory = session_factory
        self.inference = inference
        self.config = config
        self._queue: asyncio.Queue[ShadowJob] = asyncio.Queue()
        self._bytes = 0
        self._workers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._workers = [
            asyncio.create_task(self._work(), name=f"shadow-worker-{n}")
            for n in range(self.config.concurrency)
        ]

    async def aclose(self) -> None:
        for task in self._workers:
            task.cancel()
        for task in self._workers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @property
    def waiting(self) -> int:
        return self._queue.qsize()

    async def offer(self, job: ShadowJob) -> bool:
        """Queue the job, or drop it (counted) when the queue is full. Never waits. A coroutine so that
        Starlette runs it on the event loop (the queue is not thread-safe) after the response is sent."""
        if (
            self._queue.qsize() >= self.config.max_items
            or self._bytes + len(job.photo) > self.config.max_bytes
        ):
            metrics.record_shadow(job.station, DROPPED)
            return False
        self._bytes += len(job.photo)
        self._queue.put_nowait(job)
        metrics.SHADOW_QUEUE_DEPTH.set(self._queue.qsize())
        return True

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            self._bytes -= len(job.photo)
            metrics.SHADOW_QUEUE_DEPTH.set(self._queue.qsize())
            try:
                await self.answer(job)
            except Exception:  # a database hiccup: this answer is lost, the worker goes on
                log.warning(
                    "shadow answer not stored", exc_info=True, extra={"inspection": str(job.inspection_id)}
                )

    async def answer(self, job: ShadowJob) -> dict[str, Any]:
        """Ask the shadow version, store its answer (or the error) with the inspection, count it."""
        params = PredictParams(
            model=job.model_name,
            alias=job.alias,
            conf=confidence_floor(job.rules.low_confidence),
            top_k=5,
            priority="replay",
        )
        start = time.perf_counter()
        try:
            prediction = await self.inference.predict(
                ("image", job.photo, "application/octet-stream"), params, timeout=self.config.timeout
            )
            record = answered(job, prediction, (time.perf_counter() - start) * 1000)
        except UpstreamError as exc:
            record = failed(job, f"{exc.status}: {exc.detail}", (time.perf_counter() - start) * 1000)
        except Exception as exc:  # whatever went wrong, it is the shadow's answer that is lost
            log.warning("shadow answer failed", exc_info=True, extra={"inspection": str(job.inspection_id)})
            record = failed(job, f"{type(exc).__name__}: {exc}", (time.perf_counter() - start) * 1000)
        await run_in_threadpool(self._save, job.inspection_id, record)
        metrics.record_shadow(job.station, record["outcome"])
        return record

    def _save(self, inspection_id: uuid.UUID, record: dict[str, Any]) -> None:
        with self.session_factory() as session:
            session.execute(update(Inspection).where(Inspection.id == inspection_id).values(shadow=record))
            session.commit()
