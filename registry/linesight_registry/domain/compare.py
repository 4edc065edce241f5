"""Side-by-side comparison of model versions: metrics, differing parameters, lineage, classes."""

from __future__ import annotations

from typing import Any

from linesight_core.contracts.registry import ModelVersionOut, VersionComparison

# Metrics where a lower value is better; every other numeric metric is "higher is better".
LOWER_IS_BETTER = ("loss", "ece", "error", "latency", "time")


def _lower_is_better(metric: str) -> bool:
    return any(part in metric.lower() for part in LOWER_IS_BETTER)


def compare_versions(model_name: str, versions: list[ModelVersionOut]) -> VersionComparison:
    metric_names = sorted({k for v in versions for k in v.metrics})
    metrics: dict[str, dict[str, Any]] = {
        m: {str(v.version): v.metrics.get(m) for v in versions} for m in metric_names
    }
    param_names = sorted({k for v in versions for k in v.params})
    params: dict[str, dict[str, Any]] = {}
    for p in param_names:
        values = {str(v.version): v.params.get(p) for v in versions}
        if len({repr(x) for x in values.values()}) > 1:
            params[p] = values
    best: dict[str, int] = {}
    for m in metric_names:
        numeric = [(v.version, v.metrics[m]) for v in versions if isinstance(v.metrics.get(m), int | float)]
        if len(numeric) >= 2:
            pick = min if _lower_is_better(m) else max
            best[m] = pick(numeric, key=lambda kv: kv[1])[0]
    classes_equal = all(v.class_names == versions[0].class_names for v in versions[1:])
    return VersionComparison(
        model_name=model_name,
        versions=versions,
        metric_names=metric_names,
        metrics=metrics,
        params=params,
        classes_equal=classes_equal,
        best=best,
    )
