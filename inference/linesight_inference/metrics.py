"""The inference service's own Prometheus metrics (the shared HTTP metrics come from linesight_core)."""

from __future__ import annotations

from prometheus_client import Gauge

EXECUTION_PROVIDER = Gauge(
    "linesight_inference_execution_provider_info",
    "The ONNX Runtime execution provider that runs the models; 1 for the chosen one.",
    ["provider"],
)


def record_execution_provider(provider: str) -> None:
    EXECUTION_PROVIDER.clear()
    EXECUTION_PROVIDER.labels(provider).set(1)
