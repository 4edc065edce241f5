"""The inference service's own Prometheus metrics (the shared HTTP metrics come from linesight_core).
Label values are bounded: stages are fixed, models and class labels come from the registry."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram

EXECUTION_PROVIDER = Gauge(
    "linesight_inference_execution_provider_info",
    "The ONNX Runtime execution provider that runs the models; 1 for the chosen one.",
    ["provider"],
)
STAGE_SECONDS = Histogram(
    "linesight_inference_stage_duration_seconds",
    "Time one image spends in each stage: queue, preprocess, inference, postprocess, total.",
    ["stage"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
BATCH_SIZE = Histogram(
    "linesight_inference_batch_size",
    "Images per ONNX Runtime run.",
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128, 256),
)
QUEUE_DEPTH = Gauge(
    "linesight_inference_queue_depth",
    "Images waiting for a batch slot, per model.",
    ["model"],
)
LOADED_VERSION = Gauge(
    "linesight_inference_loaded_version_info",
    "Model versions held in memory and the alias each serves ('' for a version asked for by number); 1.",
    ["model", "alias", "version", "sha256"],
)
PREDICTIONS = Counter(
    "linesight_inference_predictions_total",
    "Detections (detect), instances (segment) or top-1 classes (classify) answered, per model and label.",
    ["model", "label"],
)
CONFIDENCE = Histogram(
    "linesight_inference_confidence",
    "Confidence of the detections (detect), instances (segment) or top-1 class (classify) answered.",
    ["model"],
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0),
)
MODEL_LOADS = Counter(
    "linesight_inference_model_loads_total",
    "Model versions loaded (artifact fetched, session created, warmed up), by outcome.",
    ["model", "outcome"],
)
MODEL_LOAD_SECONDS = Histogram(
    "linesight_inference_model_load_duration_seconds",
    "Time to fetch, open and warm up a model version.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
ALIAS_SWAPS = Counter(
    "linesight_inference_alias_swaps_total",
    "Served aliases moved to another version (hot reloads), per model.",
    ["model"],
)
PROMOTION_EVENTS = Counter(
    "linesight_inference_promotion_events_total",
    "Promotion events received from Redis, by what was done with them (reload, ignored, invalid).",
    ["outcome"],
)
REFUSED = Counter(
    "linesight_inference_refused_total",
    "Images refused because the model's queue was full.",
    ["model"],
)


def record_execution_provider(provider: str) -> None:
    EXECUTION_PROVIDER.clear()
    EXECUTION_PROVIDER.labels(provider).set(1)


def start_at_zero(model: str, labels: Iterable[str]) -> None:
    """A loaded model's counters exist from the start at 0, so that a dashboard shows "none refused" and
    "none of this class found" as a flat line rather than "No data"."""
    REFUSED.labels(model)
    for label in labels:
        PREDICTIONS.labels(model, label)


REPLAY_WAITING = Gauge(
    "linesight_inference_replay_waiting",
    "Replay-priority images waiting at the priority gate for live work to drain (domain/priority.py).",
)
REPLAY_WAIT_SECONDS = Histogram(
    "linesight_inference_replay_wait_seconds",
    "Time a replay-priority image waited at the priority gate before it was admitted.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
)
