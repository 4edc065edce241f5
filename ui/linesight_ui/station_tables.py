"""The Stations page's tables, chart data and request bodies: pure functions, no Streamlit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from linesight_ui.tables import when

# The fields of a station a person edits, as the gateway's PATCH takes them (name and mode are fixed).
EDITABLE = (
    "description",
    "model_name",
    "model_alias",
    "shadow_alias",
    "expected_items",
    "ok_classes",
    "defect_rules",
    "mm_per_pixel",
    "roi",
    "thresholds",
    "blur_faces",
    "blur_people",
    "unusual_needs_review",
    "active",
    "training",
)
# The training policy's defaults (gateway/linesight_gateway/api/station_schemas.py TrainingPolicy).
POLICY_DEFAULTS: dict[str, Any] = {
    "dataset": None,
    "retrain_after": None,
    "auto_train": False,
    "auto_promote": False,
    "selection_metric": None,
    "architecture": None,  # the mode's own: yolov8n.yaml, yolov8n-seg.yaml, yolov8n-cls.yaml
    "epochs": 30,
    "imgsz": 320,
    "batch": 16,
}
THRESHOLD_DEFAULTS = {"success": 0.70, "low_confidence": 0.50}


def items_text(station: Mapping[str, Any]) -> str:
    """`2 × screwdriver, 1 × wrench` (detect) or `OK: ok, fine` (classify)."""
    if station.get("mode") == "classify":
        return "OK: " + ", ".join(station.get("ok_classes", []))
    return ", ".join(f"{e['min_count']} × {e['label']}" for e in station.get("expected_items", []))


def privacy_text(station: Mapping[str, Any]) -> str:
    shown = [
        word
        for word, on in (("faces", station.get("blur_faces")), ("people", station.get("blur_people")))
        if on
    ]
    return "blurs " + " and ".join(shown) if shown else ""


def stations_table(stations: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            "name": s["name"],
            "active": "yes" if s["active"] else "no",
            "mode": s["mode"],
            "model": f"{s['model_name']}@{s['model_alias']}",
            "shadow": s.get("shadow_alias") or "",
            "expects": items_text(s),
            "thresholds": f"{s['thresholds']['success']:.2f} / {s['thresholds']['low_confidence']:.2f}",
            "privacy": privacy_text(s),
            "reference photo": "yes" if s.get("has_reference_image") else "",
            "updated": when(s.get("updated_at")),
        }
        for s in stations
    ]
    columns = [
        "name",
        "active",
        "mode",
        "model",
        "shadow",
        "expects",
        "thresholds",
        "privacy",
        "reference photo",
    ]
    return pd.DataFrame(rows, columns=[*columns, "updated"])


def training_policy(values: Mapping[str, Any]) -> dict[str, Any]:
    """The policy fields as typed, for the gateway: an empty text or number is the field's default
    (None: "not set", as for the dataset or retraining)."""
    policy = {**POLICY_DEFAULTS}
    for key, value in values.items():
        if isinstance(value, str):
            value = value.strip()
        policy[key] = POLICY_DEFAULTS.get(key) if value in ("", None) else value
    return policy


def expected_items(labels: Sequence[str], counts: Mapping[str, int]) -> list[dict[str, Any]]:
    return [{"label": label, "min_count": int(counts.get(label, 1))} for label in labels]


def changes(station: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of `body` that differ from the station as the gateway has it: what a PATCH sends."""
    out: dict[str, Any] = {}
    for key in EDITABLE:
        if key not in body:
            continue
        before = station.get(key)
        if key == "training":
            before = {**POLICY_DEFAULTS, **(before or {})}
        if body[key] != before:
            out[key] = body[key]
    return out


def changes_text(changed: Mapping[str, Any]) -> str:
    return ", ".join(k.replace("_", " ") for k in changed)


def per_day_frame(stats: Mapping[str, Any]) -> pd.DataFrame:
    """Inspections per day (OK, NOK, pending) and the day's NOK rate of the judged ones; indexed by day."""
    rows = []
    for d in stats.get("per_day", []):
        ok, nok, pending = int(d["ok"] or 0), int(d["nok"] or 0), int(d["pending"] or 0)
        judged = ok + nok
        rows.append(
            {
                "day": d["day"],
                "OK": ok,
                "NOK": nok,
                "pending": pending,
                "NOK rate": round(nok / judged, 4) if judged else None,
            }
        )
    frame = pd.DataFrame(rows, columns=["day", "OK", "NOK", "pending", "NOK rate"])
    return frame.set_index("day")


def per_version_frame(stats: Mapping[str, Any]) -> pd.DataFrame:
    """Per model version: inspections, NOK rate, feedback and the accuracy it measures; indexed `v3`."""
    rows = [
        {
            "version": f"v{v['model_version']}",
            "inspections": v["inspections"],
            "NOK rate": v["nok_rate"],
            "with feedback": v["with_feedback"],
            "correct": v["correct"],
            "accuracy": v["accuracy"],
        }
        for v in stats.get("per_model_version", [])
    ]
    columns = ["version", "inspections", "NOK rate", "with feedback", "correct", "accuracy"]
    return pd.DataFrame(rows, columns=columns).set_index("version")


def percent(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.1%}"


def training_state_text(state: Mapping[str, Any]) -> str:
    """Where the station's feedback loop stands, in words; "" before any feedback went to training."""
    parts = []
    if state.get("dataset"):
        parts.append(f"dataset {state['dataset']}")
    if state.get("last_version"):
        parts.append(f"last cut v{state['last_version']} {when(state.get('last_cut_at'))}".rstrip())
    if state.get("feedback_since_version") is not None:
        parts.append(f"{state['feedback_since_version']} feedback item(s) since")
    if state.get("last_run_id"):
        parts.append(f"last training run {str(state['last_run_id'])[:8]}")
    return " · ".join(parts)
