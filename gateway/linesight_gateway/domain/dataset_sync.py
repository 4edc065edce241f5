"""The feedback loop's gateway half: feedback marked "use for training" becomes a registry dataset item
(the corrected boxes or class are its labels), and a station's training policy cuts dataset versions and
starts training runs when enough new feedback arrived.

Feedback is saved first and synced by this background loop, so a registry outage never loses a
correction: a failed sync is retried with back-off. Rows are claimed with SKIP LOCKED, so gateway
replicas never push the same feedback twice at once."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from linesight_core.background import run_every
from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.registry import RegistryClient
from linesight_core.contracts.training import DEFAULT_ARCHITECTURE
from linesight_core.storage import ObjectNotFound, ObjectStore
from linesight_gateway.db.models import AuditEvent, Feedback, FeedbackRevision, Inspection, Station
from linesight_gateway.domain.dataset_labels import NotTrainable, dataset_name, labels_text
from linesight_gateway.domain.run_limits import START_ACTION, RunLimits, refusal

log = logging.getLogger(__name__)

ACTOR = "feedback-loop"
MAX_BACKOFF_SECONDS = 600.0
MAX_CONTRIBUTORS = 20


@dataclass(frozen=True)
class Job:
    inspection_id: uuid.UUID
    revision: int


def claim(session_factory: sessionmaker[Session], batch: int) -> list[Job]:
    """Feedback whose latest revision is not in the dataset yet (or was taken out of training)."""
    now = datetime.now(UTC)
    with session_factory() as session, session.begin():
        rows = session.execute(
            select(Feedback.inspection_id, Feedback.revision)
            .where(
                or_(Feedback.use_for_training, Feedback.dataset_item_id.is_not(None)),
                or_(
                    Feedback.dataset_synced_revision.is_(None),
                    Feedback.dataset_synced_revision < Feedback.revision,
                ),
                or_(Feedback.dataset_next_attempt_at.is_(None), Feedback.dataset_next_attempt_at <= now),
            )
            .order_by(Feedback.updated_at)
            .limit(batch)
            .with_for_update(skip_locked=True)
        ).all()
        # Hold each row briefly: push the next attempt out so another replica skips it meanwhile.
        for inspection_id, _ in rows:
            fb = session.get(Feedback, inspection_id)
            assert fb is not None
            fb.dataset_next_attempt_at = now + timedelta(seconds=60)
    return [Job(r[0], r[1]) for r in rows]


def run_request(
    station: Station,
    policy: dict[str, Any],
    dataset: str,
    version: int,
    triggered_by: dict[str, Any] | None,
) -> dict[str, Any]:
    """The training run a station's policy asks the registry for: what the policy sets, else the
    defaults, and the station mode's own architecture when the policy names none."""
    body = {
        "dataset": dataset,
        "dataset_version": version,
        "model_name": station.model_name,
        "architecture": policy.get("architecture") or DEFAULT_ARCHITECTURE[station.mode],
        "epochs": policy.get("epochs", 30),
        "imgsz": policy.get("imgsz", 320),
        "batch": policy.get("batch", 16),
        "auto_promote": bool(policy.get("auto_promote")),
        "notes": f"started by station {station.name}'s training policy"
        + (f", on feedback by {triggered_by['name']} ({triggered_by['key_id']})" if triggered_by else ""),
    }
    if policy.get("selection_metric"):
        body["selection_metric"] = policy["selection_metric"]
    return body


class DatasetSync:
    def __init__(
        self,
        session_factory: sessionmaker[Session],
        store: ObjectStore,
        images_bucket: str,
        registry: RegistryClient,
        limits: RunLimits | None = None,
    ) -> None:
        self.session_factory = session_factory
        self.store = store
        self.bucket = images_bucket
        self.registry = registry
        self.limits = limits or RunLimits()

    # --- registry calls ---------------------------------------------------------------------------

    async def _dataset_classes(self, station: Station, inspection: Inspection) -> list[str]:
        """The station's dataset, created with the answering model's classes when it does not exist."""
        name = dataset_name(station)
        try:
            resp = await self.registry.request("GET", f"/v1/datasets/{name}")
            return list(resp.json()["class_names"])
        except UpstreamError as exc:
            if exc.status != 404:
                raise
        version = await self.registry.resolve(inspection.model_name, version=inspection.model_version)
        classes = [version.class_names[k] for k in sorted(version.class_names, key=int)]
        body = {
            "name": name,
            "task": station.mode,
            "class_names": classes,
            "station": station.name,
            "description": f"Feedback of station {station.name}",
        }
        try:
            await self.registry.request("POST", "/v1/datasets", json=body, actor=ACTOR)
        except UpstreamError as exc:
            if exc.status != 409:  # another replica created it meanwhile
                raise
        resp = await self.registry.request("GET", f"/v1/datasets/{name}")
        return list(resp.json()["class_names"])

    async def _push(self, fb: Feedback, inspection: Inspection, station: Station) -> str | None:
        name = dataset_name(station)
        if not fb.use_for_training:
            if fb.dataset_item_id:
                try:
                    await self.registry.request(
                        "DELETE",
                        f"/v1/datasets/{fb.dataset_name or name}/items/{fb.dataset_item_id}",
                        actor=ACTOR,
                    )
                except UpstreamError as exc:
                    if exc.status != 404:
                        raise
            return None
        classes = await self._dataset_classes(station, inspection)
        labels = labels_text(fb, inspection, station, classes)
        try:
            data = await run_in_threadpool(self.store.get_bytes, self.bucket, inspection.image_key)
        except ObjectNotFound:
            raise NotTrainable("the stored photo is missing from object storage") from None
        resp = await self.registry.request(
            "POST",
            f"/v1/datasets/{name}/items",
            files={"file": (f"{inspection.id}.img", data, "application/octet-stream")},
            data={"labels": labels, "source": "feedback", "origin": f"inspection:{inspection.id}"},
            actor=ACTOR,
            timeout=60.0,
        )
        return str(resp.json()["id"])

    # --- one feedback -----------------------------------------------------------------------------

    async def sync_one(self, job: Job) -> bool:
        session = self.session_factory()
        try:
            fb = await run_in_threadpool(session.get, Feedback, job.inspection_id)
            if fb is None or fb.revision != job.revision:
                return False  # changed meanwhile: the next round takes the new revision
            inspection = await run_in_threadpool(session.get, Inspection, fb.inspection_id)
            station = (
                await run_in_threadpool(session.get, Station, inspection.station_id) if inspection else None
            )
            if inspection is None or station is None:
                return False
            try:
                item_id = await self._push(fb, inspection, station)
            except NotTrainable as exc:
                # Nothing to retry until a person changes the feedback (a new revision).
                fb.dataset_synced_revision = fb.revision
                fb.dataset_sync_error = str(exc)
                fb.dataset_next_attempt_at = None
                await run_in_threadpool(session.commit)
                return False
            except UpstreamError as exc:
                fb.dataset_sync_attempts += 1
                fb.dataset_sync_error = str(exc)
                if exc.status is not None and 400 <= exc.status < 500 and exc.status not in (404, 409, 429):
                    fb.dataset_synced_revision = fb.revision  # the registry refuses it: not retried
                    fb.dataset_next_attempt_at = None
                else:
                    delay = min(MAX_BACKOFF_SECONDS, 5.0 * 2 ** min(fb.dataset_sync_attempts, 8))
                    fb.dataset_next_attempt_at = datetime.now(UTC) + timedelta(seconds=delay)
                await run_in_threadpool(session.commit)
                return False
            # Counted once per inspection: toggling "use for training" off and on again adds the same
            # photo back, not new feedback, so it cannot be used to trigger runs.
            newly_counted = fb.use_for_training and not fb.training_counted
            fb.dataset_item_id = item_id
            if item_id:
                fb.dataset_name = dataset_name(station)
            fb.dataset_synced_revision = fb.revision
            fb.dataset_sync_error = None
            fb.dataset_sync_attempts = 0
            fb.dataset_next_attempt_at = None
            if newly_counted:
                fb.training_counted = True
                by = await run_in_threadpool(_author, session, fb)
                state = dict(station.training_state or {})
                state["dataset"] = dataset_name(station)
                state["feedback_since_version"] = int(state.get("feedback_since_version", 0)) + 1
                # Who gave the feedback that counts: the last one is who a run it triggers is put down to.
                state["last_feedback_by"] = by
                names = [n for n in state.get("feedback_by", []) if n != by["name"]] + [by["name"]]
                state["feedback_by"] = names[-MAX_CONTRIBUTORS:]
                station.training_state = state
            await run_in_threadpool(session.commit)
            return True
        finally:
            session.close()

    # --- the station's policy ----------------------------------------------------------------------

    async def apply_policy(self, station_id: uuid.UUID) -> dict[str, Any] | None:
        """Cut a dataset version (and start a training run) when the station's threshold is reached."""
        session = self.session_factory()
        try:
            station = await run_in_threadpool(
                lambda: session.get(Station, station_id, with_for_update={"skip_locked": True})
            )
            if station is None:
                return None
            policy = station.training or {}
            state = dict(station.training_state or {})
            need = policy.get("retrain_after")
            if not need or int(state.get("feedback_since_version", 0)) < need:
                await run_in_threadpool(session.rollback)
                return None
            name = dataset_name(station)
            if policy.get("auto_train"):
                refused = await run_in_threadpool(refusal, session, self.limits, station.id)
                if refused is not None:
                    # Deferred, not lost: the feedback stays counted and the version is cut (and the
                    # run started) in the first round after the limit allows it.
                    deferred = {"reason": refused.reason, "until": _iso(refused.retry_at)}
                    if state.get("training_deferred") != deferred:
                        state["training_deferred"] = deferred
                        station.training_state = state
                        await run_in_threadpool(session.commit)
                    else:
                        await run_in_threadpool(session.rollback)
                    return None
            state.pop("training_deferred", None)
            triggered_by = state.get("last_feedback_by")
            try:
                resp = await self.registry.request(
                    "POST",
                    f"/v1/datasets/{name}/versions",
                    json={
                        "notes": f"{state.get('feedback_since_version')} new feedback items at {station.name}"
                    },
                    actor=ACTOR,
                )
                version = resp.json()
            except UpstreamError as exc:
                if exc.status != 409:  # 409: nothing changed since the last version
                    raise
                state["feedback_since_version"] = 0
                station.training_state = state
                await run_in_threadpool(session.commit)
                return None
            state.update(feedback_since_version=0, last_version=version["version"], last_cut_at=_now())
            details: dict[str, Any] = {
                "dataset": name,
                "version": version["version"],
                "triggered_by": triggered_by,
                "feedback_by": state.pop("feedback_by", []),
            }
            if policy.get("auto_train"):
                try:
                    run = await self._start_run(station, policy, name, version["version"], triggered_by)
                except UpstreamError as exc:
                    # The version stands; the run is refused (too few images to evaluate on, the broker
                    # away, ...): say why where the engineer looks, and try again at the next version.
                    state["last_run_error"] = str(exc)
                    details["training_run_error"] = str(exc)
                else:
                    state["last_run_id"] = run["id"]
                    state["last_run_by"] = triggered_by
                    state.pop("last_run_error", None)
                    details["training_run"] = run["id"]
                    session.add(
                        AuditEvent(
                            actor_key_id=_key_id(triggered_by),
                            actor_name=ACTOR,
                            action=START_ACTION,
                            object_type="training_run",
                            object_id=str(run["id"]),
                            details={
                                "station_id": str(station.id),
                                "cause": "station training policy",
                                "triggered_by": triggered_by,
                                "dataset": name,
                                "dataset_version": version["version"],
                            },
                        )
                    )
            station.training_state = state
            session.add(
                AuditEvent(
                    actor_key_id=None,
                    actor_name=ACTOR,
                    action="dataset.version.auto",
                    object_type="station",
                    object_id=str(station.id),
                    details=details,
                )
            )
            await run_in_threadpool(session.commit)
            log.info("dataset version cut by the station's policy", extra=details)
            return details
        finally:
            session.close()

    async def _start_run(
        self,
        station: Station,
        policy: dict[str, Any],
        dataset: str,
        version: int,
        triggered_by: dict[str, Any] | None,
    ) -> Any:
        body = run_request(station, policy, dataset, version, triggered_by)
        # The run's created_by names the person whose feedback triggered it, not only the loop.
        run_actor = (
            f"{ACTOR} for {triggered_by['name']} ({triggered_by['key_id']})" if triggered_by else ACTOR
        )
        resp = await self.registry.request("POST", "/v1/training-runs", json=body, actor=run_actor[:100])
        return resp.json()

    async def run_once(self, batch: int) -> int:
        jobs = await run_in_threadpool(claim, self.session_factory, batch)
        synced = 0
        stations: set[uuid.UUID] = set()
        for job in jobs:
            if await self.sync_one(job):
                synced += 1
        # Every round, not only after a sync: a station whose run was deferred by the run limits is
        # taken up again once the limit allows it.
        stations = await run_in_threadpool(self._stations_with_policy)
        for station_id in stations:
            await self.apply_policy(station_id)
        return synced

    def _stations_with_policy(self) -> set[uuid.UUID]:
        with self.session_factory() as session:
            rows = session.scalars(
                select(Station.id).where(
                    and_(
                        Station.training["retrain_after"].as_integer().is_not(None),
                        Station.training_state["feedback_since_version"].as_integer()
                        >= Station.training["retrain_after"].as_integer(),
                    )
                )
            )
            return set(rows)


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def _key_id(by: dict[str, Any] | None) -> uuid.UUID | None:
    return uuid.UUID(by["key_id"]) if by and by.get("key_id") else None


def _author(session: Session, fb: Feedback) -> dict[str, Any]:
    """The key that wrote the feedback's current revision."""
    row = session.scalar(
        select(FeedbackRevision).where(
            FeedbackRevision.inspection_id == fb.inspection_id, FeedbackRevision.revision == fb.revision
        )
    )
    if row is None:
        return {"key_id": str(fb.created_by) if fb.created_by else None, "name": "unknown"}
    return {"key_id": str(row.by_key_id) if row.by_key_id else None, "name": row.by_name}


async def run_dataset_sync(sync: DatasetSync, *, interval: float, batch: int) -> None:
    async def one_round() -> None:
        done = await sync.run_once(batch)
        if done:
            log.info("feedback added to datasets", extra={"count": done})

    await run_every("dataset_sync", interval, one_round, failed="feedback sync round failed", logger=log)
