"""Runs replay jobs in the gateway process: claims a job (domain/replays.py), reads each verified
inspection's photo from object storage, asks both versions (the job's and the station's production
version, pinned when the job was made) with `priority=replay` so live inspections go first on the
inference service, keeps the answers with a heartbeat, and writes the report at the end.

A photo missing from storage, or one the model refuses, is skipped; a version that cannot be loaded
fails the job with the reason; a cancel request stops it at the next step."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker, undefer
from starlette.concurrency import run_in_threadpool

from linesight_core.background import run_every
from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.inference import InferenceClient
from linesight_core.contracts.inference import Prediction, PredictParams
from linesight_core.storage import ObjectNotFound, ObjectStore
from linesight_gateway import metrics
from linesight_gateway.db.models import Feedback, Inspection, ReplayJob
from linesight_gateway.domain import replays
from linesight_gateway.domain.replay_scoring import answer_of, report, rules_from_json, truth_of
from linesight_gateway.domain.verdict import StationRules

log = logging.getLogger(__name__)

RETRIES = 6  # a busy or restarting inference service: 0.5 s, 1 s, 2 s, ... between tries
SAVE_EVERY_SECONDS = 1.0
MAX_ATTEMPTS = 3  # a job interrupted this often (gateway restarts in the middle of it) fails


class ReplayFailed(Exception):
    """The job cannot go on; the message is the reason stored with it."""


class TakenOver(Exception):
    """Another runner claimed the job (this one was silent too long); this one lets it go."""


@dataclass(frozen=True)
class ReplayConfig:
    timeout: float
    concurrency: int
    stale_seconds: float


class ReplayRunner:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        store: ObjectStore,
        bucket: str,
        inference: InferenceClient,
        config: ReplayConfig,
        after_completed: Callable[[uuid.UUID], Awaitable[object]] | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.store = store
        self.bucket = bucket
        self.inference = inference
        self.config = config
        # Called with the id of each job this runner completed (the promotion gate's auto-promotion).
        self.after_completed = after_completed

    async def run_once(self) -> bool:
        """Claim and run one job; False when there was none."""
        job_id = await run_in_threadpool(replays.claim, self.session_factory, self.config.stale_seconds)
        if job_id is None:
            return False
        job = await run_in_threadpool(self._load, job_id)
        # `attempts` grows with every claim: it tells this runner's writes from a later runner's.
        token = job.attempts
        try:
            await self.run_job(job, token)
        except ReplayFailed as exc:
            log.warning("replay failed", extra={"job": str(job_id), "reason": str(exc)})
            try:
                await run_in_threadpool(self._finish, job_id, token, "failed", {"error": str(exc)[:2000]})
                metrics.record_replay("failed", [])
            except TakenOver:
                pass
        except TakenOver:
            log.warning("replay taken over by another runner", extra={"job": str(job_id)})
        return True

    def _finish(self, job_id: uuid.UUID, token: int, status: str, values: dict[str, Any]) -> None:
        with self.session_factory() as session:
            if not replays.finish(session, job_id, token, status, **values):
                raise TakenOver()
            session.commit()

    def _load(self, job_id: uuid.UUID) -> ReplayJob:
        with self.session_factory() as session:
            job = session.scalar(
                select(ReplayJob).options(undefer(ReplayJob.items)).where(ReplayJob.id == job_id)
            )
            assert job is not None
            session.expunge(job)
            return job

    def _save(self, job_id: uuid.UUID, token: int, items: list[dict[str, Any]] | None) -> bool:
        """Beat the heart (and keep the answers so far); returns whether a cancel was asked for."""
        values: dict[str, Any] = {"heartbeat_at": datetime.now(UTC)}
        if items is not None:
            values |= {"items": items, "done": len(items)}
        with self.session_factory() as session:
            cancel = session.scalar(
                update(ReplayJob)
                .where(ReplayJob.id == job_id, ReplayJob.attempts == token, ReplayJob.status == "running")
                .values(**values)
                .returning(ReplayJob.cancel_requested)
            )
            session.commit()
        if cancel is None:
            raise TakenOver()
        return bool(cancel)

    async def _beat(self, job_id: uuid.UUID, token: int) -> None:
        """Heartbeats while a slow step (a model load, a long wait behind live work) runs."""
        while True:
            await asyncio.sleep(max(0.2, self.config.stale_seconds / 3))
            try:
                await run_in_threadpool(self._save, job_id, token, None)
            except TakenOver:
                return  # the job's own next step finds out and lets it go
            except Exception:  # a database hiccup: the next beat tries again
                log.warning("replay heartbeat failed", exc_info=True, extra={"job": str(job_id)})

    async def run_job(self, job: ReplayJob, token: int) -> None:
        beat = asyncio.create_task(self._beat(job.id, token), name="replay-heartbeat")
        try:
            await self._run(job, token)
        finally:
            beat.cancel()
            await asyncio.gather(beat, return_exceptions=True)

    async def _run(self, job: ReplayJob, token: int) -> None:
        job_id = job.id
        if job.attempts > MAX_ATTEMPTS:
            raise ReplayFailed(
                f"The replay was interrupted {job.attempts - 1} times (gateway restarts while it ran); "
                "start it again."
            )
        rules = rules_from_json(job.rules)
        items: list[dict[str, Any]] = list(job.items or [])
        seen = {i["inspection_id"] for i in items}
        todo = [i for i in job.inspection_ids if i not in seen]
        saved_at = time.monotonic()
        cancel = await run_in_threadpool(self._save, job_id, token, items)
        step = max(1, self.config.concurrency)
        for start in range(0, len(todo), step):
            if cancel:
                break
            chunk = todo[start : start + step]
            items += await asyncio.gather(*(self._replay_one(job, rules, iid) for iid in chunk))
            if time.monotonic() - saved_at >= SAVE_EVERY_SECONDS or start + step >= len(todo):
                cancel = await run_in_threadpool(self._save, job_id, token, items)
                saved_at = time.monotonic()
        # A cancelled job still reports what it replayed before the cancel.
        outcome = "cancelled" if cancel else "completed"
        values = {"items": items, "done": len(items), "result": report(items, rules)}
        await run_in_threadpool(self._finish, job_id, token, outcome, values)
        metrics.record_replay(outcome, items[len(job.items or []) :])
        if outcome == "completed" and self.after_completed is not None:
            try:
                await self.after_completed(job_id)
            except Exception:  # the replay stands; the next completed replay of the version tries again
                log.warning("after-replay step failed", exc_info=True, extra={"job": str(job_id)})

    def _read_inspection(self, iid: str) -> tuple[Inspection, Feedback] | None:
        with self.session_factory() as session:
            row = session.execute(
                select(Inspection, Feedback)
                .join(Feedback, Feedback.inspection_id == Inspection.id)
                .where(Inspection.id == uuid.UUID(iid))
            ).first()
            if row is None:
                return None
            session.expunge_all()
            return row[0], row[1]

    async def _replay_one(self, job: ReplayJob, rules: StationRules, iid: str) -> dict[str, Any]:
        found = await run_in_threadpool(self._read_inspection, iid)
        if found is None:
            return {"inspection_id": iid, "skipped": "the inspection or its feedback no longer exists"}
        inspection, feedback = found
        base = {"inspection_id": iid, "created_at": inspection.created_at.isoformat()}
        try:
            photo = await run_in_threadpool(self.store.get_bytes, self.bucket, inspection.image_key)
        except ObjectNotFound:
            return base | {"skipped": "the stored photo is missing from object storage"}
        floor = min(0.25, rules.low_confidence / 2)  # as live inspections ask (domain/inspections.py)
        asks = [
            PredictParams(model=name, version=version, conf=floor, top_k=5, priority="replay")
            for name, version in (
                (job.model_name, job.model_version),
                (job.baseline_name, job.baseline_version),
            )
        ]
        answers = await asyncio.gather(*(self._ask(photo, p) for p in asks))
        if any(isinstance(a, str) for a in answers):
            return base | {"skipped": next(a for a in answers if isinstance(a, str))}
        candidate, production = answers
        assert isinstance(candidate, Prediction) and isinstance(production, Prediction)
        return base | {
            "truth": truth_of(inspection, feedback, rules),
            "candidate": answer_of(candidate, rules),
            "production": answer_of(production, rules),
        }

    async def _ask(self, photo: bytes, params: PredictParams) -> Prediction | str:
        """The prediction, or why this photo is skipped; raises ReplayFailed when the version cannot
        answer at all."""
        what = f"{params.model} version {params.version}"
        for attempt in range(RETRIES + 1):
            try:
                return await self.inference.predict(
                    ("image", photo, "application/octet-stream"), params, timeout=self.config.timeout
                )
            except UpstreamError as exc:
                if exc.status in (413, 415, 422):
                    return f"the model refused the photo ({exc.status}: {exc.detail})"
                if exc.status == 404:
                    raise ReplayFailed(f"{what} cannot be found: {exc.detail}") from None
                if exc.status == 502:
                    raise ReplayFailed(f"{what} cannot be loaded: {exc.detail}") from None
                if exc.status not in (503, 504) or attempt == RETRIES:
                    raise ReplayFailed(f"{what} did not answer ({exc.status}: {exc.detail})") from None
                await asyncio.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")


async def run_replays(runner: ReplayRunner, *, interval: float) -> None:
    async def one_round() -> None:
        while await runner.run_once():  # jobs back to back; the interval only when there is none
            pass

    await run_every("replays", interval, one_round, failed="replay round failed", logger=log)
