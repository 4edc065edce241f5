"""Gateway answers as the tables and short texts the pages show: pure functions, no Streamlit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from linesight_core.contracts.datasets import DatasetOut, DatasetVersionOut
from linesight_core.contracts.registry import AliasEventOut, ModelOut, ModelVersionOut, VersionComparison
from linesight_core.contracts.training import EpochRecord, TrainingRunOut

# Loss and metric names the training worker reports (Ultralytics' own, without the "metrics/" prefix).
CHART_METRICS = (
    "mAP50",
    "mAP50-95",
    "mask_mAP50",
    "mask_mAP50-95",
    "box_mAP50",
    "box_mAP50-95",
    "accuracy",
    "top1",
    "top5",
)


def when(value: datetime | str | None) -> str:
    """A time as the pages show it: UTC, to the second."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return f"{value:%Y-%m-%d %H:%M:%S} UTC"


def timings_text(timings: Mapping[str, Any]) -> str:
    """`decode 4 ms · store 6 ms · inference 21 ms · total 34 ms`."""
    parts = [f"{name} {float(ms):.0f} ms" for name, ms in timings.items() if isinstance(ms, int | float)]
    return " · ".join(parts)


def expected_counts(station: Mapping[str, Any], counts: Mapping[str, int]) -> pd.DataFrame:
    """Detect stations: each expected item with how many were seen, then anything else that was seen."""
    rows = [
        {"item": e["label"], "expected (at least)": e["min_count"], "found": counts.get(e["label"], 0)}
        for e in station.get("expected_items", [])
    ]
    expected = {e["label"] for e in station.get("expected_items", [])}
    rows += [
        {"item": k, "expected (at least)": 0, "found": n} for k, n in counts.items() if k not in expected
    ]
    return pd.DataFrame(rows, columns=["item", "expected (at least)", "found"])


def unusual_text(reasons: Sequence[str]) -> str:
    """An inspection's unusual-photo reasons as words: `too_dark` → `too dark`."""
    return ", ".join(r.replace("_", " ") for r in reasons)


def inspections_table(items: Sequence[Mapping[str, Any]], station_names: Mapping[str, str]) -> pd.DataFrame:
    rows = []
    for i in items:
        model = i.get("model") or {}
        rows.append(
            {
                "time": when(i["created_at"]),
                "station": station_names.get(i["station_id"], i["station_id"]),
                "verdict": i["verdict"] or "pending",
                "confidence": i["confidence"],
                "confidence status": i["confidence_status"] or "",
                "missing": ", ".join(m["label"] for m in i.get("missing", [])),
                "model": f"{model.get('name')} v{model['version']}" if model.get("version") else "",
                "id": i["id"],
            }
        )
    columns = ["time", "station", "verdict", "confidence", "confidence status", "missing", "model", "id"]
    return pd.DataFrame(rows, columns=columns)


def datasets_table(datasets: Iterable[DatasetOut]) -> pd.DataFrame:
    rows = [
        {
            "name": d.name,
            "task": d.task,
            "classes": ", ".join(d.class_names),
            "items": d.item_count,
            "latest version": d.latest_version,
            "station": d.station or "",
            "created": when(d.created_at),
        }
        for d in datasets
    ]
    return pd.DataFrame(
        rows, columns=["name", "task", "classes", "items", "latest version", "station", "created"]
    )


def dataset_versions_table(versions: Iterable[DatasetVersionOut]) -> pd.DataFrame:
    rows = [
        {
            "version": v.version,
            "items": v.item_count,
            "train": v.split_counts.get("train", 0),
            "val": v.split_counts.get("val", 0),
            "test": v.split_counts.get("test", 0),
            "unlabelled": v.unlabelled,
            "added": v.diff.added,
            "removed": v.diff.removed,
            "relabelled": v.diff.relabelled,
            "against": v.diff.against,
            "notes": v.notes,
            "created by": v.created_by,
            "created": when(v.created_at),
        }
        for v in versions
    ]
    return pd.DataFrame(rows)


def runs_table(runs: Iterable[TrainingRunOut]) -> pd.DataFrame:
    rows = [
        {
            "run": str(r.id)[:8],
            "status": r.status,
            "kind": r.kind,
            "model": r.model_name + (f" v{r.model_version}" if r.model_version else ""),
            "dataset": f"{r.dataset} v{r.dataset_version}" if r.dataset else "",
            "epochs": f"{r.epochs_done}/{r.epochs}" if r.epochs else str(r.epochs_done),
            "created": when(r.created_at),
            "created by": r.created_by,
            "decision": r.decision or r.error,
        }
        for r in runs
    ]
    return pd.DataFrame(rows)


def epochs_table(epochs: Sequence[EpochRecord]) -> pd.DataFrame:
    """One row per epoch: losses, then validation metrics, then timing; indexed by epoch."""
    rows = [
        {"epoch": e.epoch, **e.losses, **e.metrics, "elapsed s": round(e.elapsed_s, 1), "eta s": e.eta_s}
        for e in epochs
    ]
    frame = pd.DataFrame(rows)
    return frame.set_index("epoch") if not frame.empty else frame


def loss_columns(epochs: Sequence[EpochRecord]) -> list[str]:
    return sorted({name for e in epochs for name in e.losses})


def chart_metric_columns(epochs: Sequence[EpochRecord]) -> list[str]:
    present = {name for e in epochs for name in e.metrics}
    return [m for m in CHART_METRICS if m in present]


def evaluation_side_by_side(run: TrainingRunOut) -> pd.DataFrame:
    """The new version's metrics beside the production version's (the champion), on the same split."""
    evaluation = run.evaluation or {}
    challenger = (evaluation.get("challenger") or {}).get("metrics") or run.metrics
    champion = evaluation.get("champion") or {}
    new_label = f"this run (v{run.model_version})" if run.model_version else "this run"
    old_label = f"production (v{champion['version']})" if champion.get("version") else "production"
    names = list(dict.fromkeys([*challenger, *(champion.get("metrics") or {})]))
    rows = [
        {
            "metric": name,
            new_label: challenger.get(name),
            old_label: (champion.get("metrics") or {}).get(name) if champion else None,
        }
        for name in names
    ]
    return pd.DataFrame(rows, columns=["metric", new_label, old_label]).set_index("metric")


def per_class_table(evaluation: Mapping[str, Any]) -> pd.DataFrame:
    per_class = (evaluation.get("challenger") or {}).get("per_class") or {}
    frame = pd.DataFrame.from_dict(per_class, orient="index")
    frame.index.name = "class"
    return frame


def models_table(models: Iterable[ModelOut]) -> pd.DataFrame:
    rows = [
        {
            "name": m.name,
            "task": m.task,
            "latest version": m.latest_version,
            "aliases": ", ".join(f"{a} → v{v}" for a, v in sorted(m.aliases.items())),
            "description": m.description,
        }
        for m in models
    ]
    return pd.DataFrame(rows, columns=["name", "task", "latest version", "aliases", "description"])


def versions_table(versions: Iterable[ModelVersionOut]) -> pd.DataFrame:
    rows = []
    for v in versions:
        numbers = {k: val for k, val in v.metrics.items() if isinstance(val, int | float)}
        rows.append(
            {
                "version": v.version,
                "aliases": ", ".join(v.aliases),
                "status": v.status,
                **numbers,
                "classes": len(v.class_names),
                "imgsz": "x".join(str(n) for n in v.imgsz),
                "training run": str(v.training_run_id)[:8] if v.training_run_id else "",
                "created by": v.created_by,
                "created": when(v.created_at),
                "notes": v.notes,
            }
        )
    return pd.DataFrame(rows)


def comparison_table(comparison: VersionComparison) -> pd.DataFrame:
    """metric × version, with the version that does best on each metric."""
    versions = [str(v.version) for v in comparison.versions]
    rows = [
        {
            "metric": name,
            **{f"v{v}": comparison.metrics.get(name, {}).get(v) for v in versions},
            "best": f"v{comparison.best[name]}" if name in comparison.best else "",
        }
        for name in comparison.metric_names
    ]
    return pd.DataFrame(rows, columns=["metric", *(f"v{v}" for v in versions), "best"]).set_index("metric")


def params_table(comparison: VersionComparison) -> pd.DataFrame:
    versions = [str(v.version) for v in comparison.versions]
    rows = [
        {"param": name, **{f"v{v}": str(vals.get(v, "")) for v in versions}}
        for name, vals in comparison.params.items()
    ]
    return pd.DataFrame(rows, columns=["param", *(f"v{v}" for v in versions)])


def alias_history_table(events: Iterable[AliasEventOut]) -> pd.DataFrame:
    def version(n: int | None) -> str:
        return f"v{n}" if n is not None else "—"

    rows = [
        {
            "at": when(e.at),
            "alias": e.alias,
            "from": version(e.from_version),
            "to": version(e.to_version),
            "by": e.moved_by,
            "reason": e.reason,
        }
        for e in events
    ]
    return pd.DataFrame(rows, columns=["at", "alias", "from", "to", "by", "reason"])
