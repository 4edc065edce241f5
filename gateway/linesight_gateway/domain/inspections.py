"""Inspections: store the photo first, ask the model, apply the station's rules; keep the photo as
`pending` when the model cannot answer, and complete it later."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from linesight_core.clients.errors import UpstreamError
from linesight_core.clients.inference import InferenceClient
from linesight_core.contracts.inference import Prediction, PredictParams
from linesight_gateway import metrics
from linesight_gateway.db.models import Inspection, Station
from linesight_gateway.domain import unusual
from linesight_gateway.domain.defect_rules import DefectRule
from linesight_gateway.domain.training_baselines import TrainingBaselines
from linesight_gateway.domain.verdict import LOW_CONFIDENCE, SUCCESS, StationRules, Verdict, judge

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 60


def rules_of(station: Station) -> StationRules:
    return StationRules(
        mode=station.mode,
        expected={e["label"]: int(e.get("min_count", 1)) for e in station.expected_items},
        ok_classes=frozenset(station.ok_classes),
        success=station.success_threshold,
        low_confidence=station.low_confidence_threshold,
        defect_rules=tuple(DefectRule.of(r) for r in station.defect_rules or []),
        mm_per_pixel=station.mm_per_pixel,
        roi=tuple((float(x), float(y)) for x, y in station.roi) if station.roi else None,
    )


def confidence_floor(low_confidence: float) -> float:
    # Ask for detections down to a low floor: the station's own thresholds decide what counts, and
    # near-misses explain a NOK.
    return min(0.25, low_confidence / 2)


def params_of(station: Station) -> PredictParams:
    floor = confidence_floor(station.low_confidence_threshold)
    return PredictParams(model=station.model_name, alias=station.model_alias, conf=floor, top_k=5)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(MAX_BACKOFF_SECONDS, 2 ** max(0, attempts - 1)))


def recent_signals(session: Session, station_id: uuid.UUID) -> list[dict[str, float]]:
    """The signals of the station's last accepted (completed, not unusual) inspections: its baseline.
    One indexed read of at most BASELINE_SIZE small rows."""
    rows = session.scalars(
        select(Inspection.photo_stats)
        .where(
            Inspection.station_id == station_id,
            Inspection.status == "completed",
            Inspection.unusual == text("'[]'::jsonb"),
            Inspection.photo_stats.is_not(None),
        )
        .order_by(Inspection.created_at.desc())
        .limit(unusual.BASELINE_SIZE)
    )
    return [r["signals"] for r in rows if r and "signals" in r]


def _flag_unusual(
    inspection: Inspection,
    station: Station,
    verdict: Verdict,
    prediction: Prediction,
    history: list[dict[str, float]],
    training: unusual.Baseline | None,
) -> None:
    photo = {k: v for k, v in (inspection.photo_stats or {}).items() if k != "signals"}
    if not photo:  # inspected before the check existed
        inspection.unusual = []
        return
    if station.mode == "classify":
        tops = [c.confidence for c in (prediction.classes or [])[:1]]
        detections = None
    elif station.mode == "segment":
        # A clean plate has no instance to be sure of: only the defects found tell about the model.
        tops = [d["confidence"] for d in verdict.defects]
        detections = None
    else:
        # The confidence of each item the station expects, as the model saw it.
        expected_labels = {e["label"] for e in station.expected_items}
        tops = [d["confidence"] for d in verdict.top_predictions if d["label"] in expected_labels]
        detections = sum(verdict.counts.values())
    expected = sum(int(e.get("min_count", 1)) for e in station.expected_items) or None
    inspection.unusual = unusual.reasons(
        photo,
        tops,
        history=history,
        expected_count=expected,
        detections=detections,
        low_confidence=station.low_confidence_threshold,
        training=training,
    )
    inspection.photo_stats = {**photo, "signals": unusual.signals(photo, tops)}
    if inspection.unusual and station.unusual_needs_review and verdict.confidence_status == SUCCESS:
        # Not a sure answer on a photo unlike the station's: someone checks it by eye.
        inspection.confidence_status = LOW_CONFIDENCE


def complete(
    inspection: Inspection,
    station: Station,
    prediction: Prediction,
    extra_timings: dict[str, float],
    history: list[dict[str, float]] | None = None,
    training: unusual.Baseline | None = None,
) -> None:
    """Judge the prediction; with the station's baseline (`history`) and the model version's training
    photos' (`training`), flag an unusual photo too."""
    verdict = judge(prediction, rules_of(station))
    inspection.status = "completed"
    inspection.verdict = verdict.verdict
    inspection.confidence = verdict.confidence
    inspection.confidence_status = verdict.confidence_status
    inspection.counts = verdict.counts
    inspection.missing = verdict.missing
    inspection.unexpected = verdict.unexpected
    inspection.predictions = verdict.top_predictions
    inspection.failed_rules = verdict.failed_rules
    inspection.defects = verdict.defects
    inspection.model_version = prediction.version
    inspection.model_sha256 = prediction.sha256
    inspection.timings_ms = {**extra_timings, "model": prediction.timings_ms.model_dump()}
    inspection.error = None
    inspection.next_attempt_at = None
    inspection.completed_at = datetime.now(UTC)
    _flag_unusual(inspection, station, verdict, prediction, history or [], training)
    metrics.record_inspection(station.name, inspection)


def record_answer(
    inspection: Inspection,
    station: Station,
    prediction: Prediction | None,
    error: str | None,
    *,
    timings: dict[str, float],
    history: list[dict[str, float]] | None = None,
    baselines: TrainingBaselines | None = None,
) -> bool:
    """The model's answer written into the inspection (judged, flagged unusual against the station's
    `history` and the version's training photos), or, without one, a failed attempt that leaves it
    `pending` for the reprocessor. True when the inspection is completed. The live inspection and the
    reprocessor both record through here."""
    if prediction is None:
        mark_failed_attempt(inspection, error or "no answer")
        return False
    training = baselines.get(prediction.model_name, prediction.version) if baselines else None
    complete(inspection, station, prediction, timings, history, training)
    return True


def mark_failed_attempt(inspection: Inspection, error: str) -> None:
    inspection.status = "pending"
    inspection.attempts = (inspection.attempts or 0) + 1
    inspection.error = error[:1000]
    inspection.next_attempt_at = datetime.now(UTC) + backoff(inspection.attempts)


async def ask_model(
    inference: InferenceClient, image: bytes, station: Station, timeout: float
) -> tuple[Prediction | None, str | None, float]:
    """The model's answer, or the reason there is none. Never raises for an unavailable model."""
    start = time.perf_counter()
    try:
        prediction = await inference.predict(
            ("image", image, "application/octet-stream"), params_of(station), timeout=timeout
        )
        return prediction, None, (time.perf_counter() - start) * 1000
    except UpstreamError as exc:
        return None, f"{exc.status}: {exc.detail}", (time.perf_counter() - start) * 1000


def claim_pending(session_factory: sessionmaker[Session], limit: int) -> list[uuid.UUID]:
    """Pick pending inspections that are due, pushing their next attempt forward so another replica does
    not pick them at the same time."""
    with session_factory() as session:
        rows = session.execute(
            text(
                """
                UPDATE gateway.inspections SET next_attempt_at = now() + interval '60 seconds'
                WHERE id IN (
                    SELECT id FROM gateway.inspections
                    WHERE status = 'pending' AND (next_attempt_at IS NULL OR next_attempt_at <= now())
                    ORDER BY created_at LIMIT :limit FOR UPDATE SKIP LOCKED
                ) RETURNING id
                """
            ),
            {"limit": limit},
        ).all()
        session.commit()
    return [r[0] for r in rows]


def load_with_station(session: Session, inspection_id: uuid.UUID) -> tuple[Inspection, Station] | None:
    row = session.execute(
        select(Inspection, Station)
        .join(Station, Station.id == Inspection.station_id)
        .where(Inspection.id == inspection_id)
    ).first()
    return (row[0], row[1]) if row else None
