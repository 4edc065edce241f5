"""The gateway's line-quality Prometheus metrics (the shared HTTP metrics come from linesight_core).

Label values are bounded by configuration: station, model and class names and vendor ids come from the
stations, the registry and the OCR service's vendor list; model versions grow one per promotion; never an
inspection, read or key id. Counters are counted where the domain records the event; the gauges that need
the database are refreshed periodically by domain/queue_gauges.py, never per scrape."""

from __future__ import annotations

from collections import Counter as Tally
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

INSPECTIONS = Counter(
    "linesight_gateway_inspections_total",
    "Inspections the model answered (at once or on a retry), by station, verdict (OK, NOK), confidence "
    "status (success, low_confidence, rejected) and the model version that answered.",
    ["station", "verdict", "confidence_status", "model", "model_version"],
)
INSPECTION_CONFIDENCE = Histogram(
    "linesight_gateway_inspection_confidence",
    "The confidence the station's rules judged each answered inspection on.",
    ["station"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
MISSING_ITEMS = Counter(
    "linesight_gateway_missing_items_total",
    "Expected items found missing (fewer than the station's minimum count), by station and class.",
    ["station", "class"],
)
FAILED_RULES = Counter(
    "linesight_gateway_failed_rules_total",
    "Defect rules a segment station's inspection failed (domain/defect_rules.py), by station, class and "
    "rule (count, largest_area, total_area_percent, length).",
    ["station", "class", "rule"],
)
UNUSUAL_PHOTOS = Counter(
    "linesight_gateway_unusual_photos_total",
    "Answered inspections whose photo was flagged unusual (domain/unusual.py), by station and reason "
    "(too_dark, too_bright, low_contrast, blurred, camera_moved, unlike_recent_photos, "
    "unlike_training_data, low_model_confidence, unexpected_detection_count); a photo counts once per reason.",
    ["station", "reason"],
)
FEEDBACK = Counter(
    "linesight_gateway_feedback_total",
    "First feedback given on an inspection (revisions are not counted again), by station and the model "
    "version that answered; agreement is right when the operator confirmed the answer, wrong otherwise.",
    ["station", "model", "model_version", "agreement"],
)
REPLAY_JOBS = Counter(
    "linesight_gateway_replay_jobs_total",
    "Replay jobs finished (domain/replay_runner.py), by outcome: completed, failed, cancelled.",
    ["outcome"],
)
REPLAY_INSPECTIONS = Counter(
    "linesight_gateway_replay_inspections_total",
    "Verified inspections a replay job went through, by outcome: replayed (both versions answered) or "
    "skipped (photo missing from storage, or refused by the model).",
    ["outcome"],
)
for _outcome in ("completed", "failed", "cancelled"):  # the series exist at 0 from the start
    REPLAY_JOBS.labels(_outcome)
for _outcome in ("replayed", "skipped"):
    REPLAY_INSPECTIONS.labels(_outcome)
SHADOW_ANSWERS = Counter(
    "linesight_gateway_shadow_answers_total",
    "Live inspections at a station with a shadow alias, by what its shadow version did (domain/shadow.py): "
    "agree or disagree (same verdict and counts, or class, as the live answer), failed (no answer: the "
    "version cannot be loaded, timed out, refused), dropped (the shadow queue was full).",
    ["station", "outcome"],
)
SHADOW_FEEDBACK = Counter(
    "linesight_gateway_shadow_feedback_total",
    "First feedback on an inspection the shadow version answered, by station, side (live, shadow) and "
    "whether that side's verdict matched the operator's (right, wrong): the accuracy of each.",
    ["station", "side", "agreement"],
)
SHADOW_QUEUE_DEPTH = Gauge(
    "linesight_gateway_shadow_queue_depth",
    "Inspections waiting for their shadow answer in this gateway process.",
)
LABEL_READS = Counter(
    "linesight_gateway_label_reads_total",
    "Label reads stored, by the status they started in (approved at once, or needs_review) and vendor "
    "('none' when no vendor was recognised).",
    ["status", "vendor"],
)
LABEL_REVIEWS = Counter(
    "linesight_gateway_label_reviews_total",
    "Label reads a reviewer finished, by outcome: approved (as read) or corrected.",
    ["outcome"],
)
CODES_CORRECTED = Counter(
    "linesight_gateway_label_codes_corrected_total",
    "Codes a reviewer changed, by code type and change: corrected (another value than read) or added "
    "(not read at all).",
    ["type", "change"],
)
PENDING_INSPECTIONS = Gauge(
    "linesight_gateway_pending_inspections",
    "Inspections waiting for the model's answer, per station, as last counted.",
    ["station"],
)
PENDING_OLDEST_AGE = Gauge(
    "linesight_gateway_pending_oldest_age_seconds",
    "Age of the oldest pending inspection per station (0 when none), as last counted.",
    ["station"],
)
LAST_INSPECTION = Gauge(
    "linesight_gateway_station_last_inspection_timestamp_seconds",
    "When the last photo was inspected at each active station (Unix time; absent before the first).",
    ["station"],
)
REVIEW_QUEUE_DEPTH = Gauge(
    "linesight_gateway_label_review_queue_depth",
    "Label reads waiting in the review queue (needs_review), as last counted.",
)
REVIEW_QUEUE_OLDEST_AGE = Gauge(
    "linesight_gateway_label_review_oldest_age_seconds",
    "Age of the oldest label read in the review queue (0 when empty), as last counted.",
)
GAUGES_REFRESHED = Gauge(
    "linesight_gateway_queue_gauges_refreshed_timestamp_seconds",
    "When the database-backed gauges (pending, review queue, last inspection) were last refreshed.",
)


def record_inspection(station: str, inspection: Any) -> None:
    """An answered inspection (domain/inspections.py `complete`)."""
    INSPECTIONS.labels(
        station,
        inspection.verdict or "none",
        inspection.confidence_status or "none",
        inspection.model_name,
        str(inspection.model_version),
    ).inc()
    if inspection.confidence is not None:
        INSPECTION_CONFIDENCE.labels(station).observe(inspection.confidence)
    for item in inspection.missing or []:
        MISSING_ITEMS.labels(station, item["label"]).inc()
    for rule in inspection.failed_rules or []:
        FAILED_RULES.labels(station, rule["label"], rule["rule"]).inc()
    for reason in inspection.unusual or []:
        UNUSUAL_PHOTOS.labels(station, reason).inc()


def record_feedback(station: str, inspection: Any, correct: bool) -> None:
    FEEDBACK.labels(
        station, inspection.model_name, str(inspection.model_version), "right" if correct else "wrong"
    ).inc()


def record_replay(outcome: str, items: list[dict[str, Any]]) -> None:
    REPLAY_JOBS.labels(outcome).inc()
    skipped = sum(1 for i in items if "skipped" in i)
    REPLAY_INSPECTIONS.labels("skipped").inc(skipped)
    REPLAY_INSPECTIONS.labels("replayed").inc(len(items) - skipped)


def record_shadow(station: str, outcome: str) -> None:
    SHADOW_ANSWERS.labels(station, outcome).inc()


def record_shadow_feedback(station: str, side: str, right: bool) -> None:
    SHADOW_FEEDBACK.labels(station, side, "right" if right else "wrong").inc()


def record_label_read(status: str, vendor: str | None) -> None:
    LABEL_READS.labels(status, vendor or "none").inc()


def record_review(outcome: str, codes: list[dict[str, Any]]) -> None:
    """A finished review: its outcome and each code it changed (the `review` mark of confirmed_codes)."""
    LABEL_REVIEWS.labels(outcome).inc()
    for (kind, change), n in Tally((c["type"], c["review"]) for c in codes).items():
        if change in ("corrected", "added"):
            CODES_CORRECTED.labels(kind, change).inc(n)
