"""Prometheus metrics of training runs in the registry."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

RUNS = Counter(
    "linesight_registry_training_runs_total",
    "Training and conversion runs by kind and the state they entered (queued, running, succeeded, "
    "failed, cancelled).",
    ["kind", "status"],
)
ACTIVE = Gauge(
    "linesight_registry_training_runs_active",
    "Unfinished runs by status, as the sweeper last counted them.",
    ["status"],
)
SWEPT = Counter(
    "linesight_registry_training_runs_swept_total",
    "Running runs the sweeper failed: the worker stopped sending heartbeats, or the time limit passed.",
    ["reason"],
)
DECISIONS = Counter(
    "linesight_registry_training_challenger_decisions_total",
    "Champion/challenger outcomes of finished runs: promoted, staged, gated (staged, production left to "
    "the promotion gate), kept (not better), not_compared.",
    ["outcome"],
)
RUN_DURATION = Histogram(
    "linesight_registry_training_run_duration_seconds",
    "From a run's start to its end (succeeded, failed or cancelled after it started), by kind and status.",
    ["kind", "status"],
    buckets=(10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800, 43200, 86400),
)
