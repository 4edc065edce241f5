"""The settings of a station as form fields (Streamlit): its model, alias and shadow alias, its expected
items, OK classes or defect rules, thresholds, privacy and training policy, gathered into the gateway's body. The
Stations page draws them for a new station and for the one open."""

from __future__ import annotations

from typing import Any

import streamlit as st

from linesight_core.contracts.registry import ModelOut
from linesight_ui import resources, station_tables
from linesight_ui.problems import ask
from linesight_ui.station_defects import segment_fields

OFF = "off"  # no shadow alias
TASKS = ("detect", "classify", "segment")  # the model tasks a station can use (its mode)
# The champion/challenger metric; "" is the gateway's default for the station's mode.
METRICS = [
    "",
    "mAP50-95",
    "mAP50",
    "precision",
    "recall",
    "mask_mAP50-95",
    "mask_mAP50",
    "box_mAP50-95",
    "box_mAP50",
    "accuracy",
    "top1",
    "top5",
]

# --- the fields of a station ------------------------------------------------------------------------


def model_classes(model: ModelOut | None, alias: str) -> list[str] | None:
    """The class names of the version `alias` points at, in the model's order; None when it points at
    none yet (the gateway checks the station's labels at inspection time then)."""
    version = model.aliases.get(alias) if model else None
    if model is None or version is None:
        return None
    gateway = resources.gateway()
    found = ask(
        lambda: gateway.model_version(model.name, version), action="read the model's classes", stop=False
    )
    if found is None:
        return None
    return [
        found.class_names[k] for k in sorted(found.class_names, key=lambda k: int(k) if k.isdigit() else k)
    ]


def model_fields(prefix: str, station: dict[str, Any] | None, models: list[ModelOut]) -> tuple[str, str, str]:
    """The model, its alias and the station's mode (the model's task; a station keeps its mode)."""
    usable = {m.name: m for m in models if m.task in TASKS and (station is None or m.task == station["mode"])}
    names = list(usable)
    current = station["model_name"] if station else None
    if current is not None and current not in usable:
        names.insert(0, current)  # gone from the registry, or of another task: shown as it is
    left, right = st.columns(2)
    name = left.selectbox(
        "Model",
        names,
        index=names.index(current) if current in names else 0,
        key=f"{prefix}-model",
        format_func=lambda n: f"{n} ({usable[n].task})" if n in usable else f"{n} (not in the registry)",
        help="A detect model makes a station that counts expected items; a classify model one with OK classes; "
        "a segment model one that measures defects against its rules.",
    )
    model = usable.get(name)
    alias_now = station["model_alias"] if station else "production"
    aliases = sorted({*(model.aliases if model else {}), "production", alias_now})
    alias = right.selectbox(
        "Alias",
        aliases,
        index=aliases.index(alias_now),
        key=f"{prefix}-alias-{name}",
        accept_new_options=True,
        format_func=lambda a: (
            f"{a} → v{model.aliases[a]}" if model and a in model.aliases else f"{a} (no version yet)"
        ),
        help="The station uses whichever version this alias points at; type a new alias to add one.",
    )
    mode = station["mode"] if station else (model.task if model else "detect")
    return name, alias or alias_now, mode


def shadow_field(
    prefix: str, station: dict[str, Any] | None, model: ModelOut | None, alias: str
) -> str | None:
    """The alias whose version answers every live inspection again in the shadow (None: off)."""
    now = station.get("shadow_alias") if station else None
    choices = [OFF, *sorted({*(model.aliases if model else {}), *([now] if now else [])} - {alias})]
    picked = st.selectbox(
        "Shadow alias",
        choices,
        index=choices.index(now) if now in choices else 0,
        key=f"{prefix}-shadow-{model.name if model else ''}-{alias}",
        format_func=lambda a: (
            a
            if a == OFF
            else f"{a} → v{model.aliases[a]}"
            if model and a in model.aliases
            else f"{a} (no version)"
        ),
        help="Another alias of the model (staging, say): its version answers each live inspection after the "
        "live answer is sent, never changing the verdict; Promotion evidence shows how the two agree.",
    )
    return None if picked == OFF else picked


def items_fields(
    prefix: str, station: dict[str, Any] | None, mode: str, classes: list[str] | None
) -> dict[str, Any]:
    """Expected items with their counts (detect), the OK classes (classify) or the defect rules, mm per
    pixel and region of interest (segment), from the model's classes."""
    if mode == "segment":
        return segment_fields(prefix, station, classes)
    free = classes is None
    note = (
        "The alias points at no version yet: type the class names (they are checked when it does)."
        if free
        else None
    )
    if mode == "classify":
        current = list(station["ok_classes"]) if station else []
        ok = st.multiselect(
            "OK classes",
            list(dict.fromkeys([*(classes or []), *current])),
            default=current,
            key=f"{prefix}-ok",
            accept_new_options=free,
            help="An answer of one of these classes is OK; any other class is NOK.",
            placeholder="Pick the classes that mean OK",
        )
        if note:
            st.caption(note)
        return {"expected_items": [], "ok_classes": ok}
    counts_now = {e["label"]: e["min_count"] for e in (station["expected_items"] if station else [])}
    labels = st.multiselect(
        "Expected items",
        list(dict.fromkeys([*(classes or []), *counts_now])),
        default=list(counts_now),
        key=f"{prefix}-items",
        accept_new_options=free,
        help="Each must be seen at least as often as its count, or the photo is NOK.",
        placeholder="Pick the items the photo must show",
    )
    if note:
        st.caption(note)
    counts: dict[str, int] = {}
    if labels:
        cells = st.columns(min(len(labels), 4))
        for n, label in enumerate(labels):
            counts[label] = int(
                cells[n % len(cells)].number_input(
                    f"{label}: at least",
                    min_value=1,
                    max_value=1000,
                    value=int(counts_now.get(label, 1)),
                    step=1,
                    key=f"{prefix}-count-{label}",
                )
            )
    return {"expected_items": station_tables.expected_items(labels, counts), "ok_classes": []}


def threshold_fields(prefix: str, station: dict[str, Any] | None) -> dict[str, float]:
    now = station["thresholds"] if station else station_tables.THRESHOLD_DEFAULTS
    left, right = st.columns(2)
    success = left.number_input(
        "Success threshold",
        min_value=0.0,
        max_value=1.0,
        value=float(now["success"]),
        step=0.05,
        format="%.2f",
        key=f"{prefix}-success",
        help="An answer at least this sure is `success`.",
    )
    low = right.number_input(
        "Low-confidence threshold",
        min_value=0.0,
        max_value=1.0,
        value=float(now["low_confidence"]),
        step=0.05,
        format="%.2f",
        key=f"{prefix}-low",
        help="Less sure than success but at least this: `low_confidence` (a person checks it); "
        "below: `rejected`. Not above the success threshold.",
    )
    return {"success": round(float(success), 4), "low_confidence": round(float(low), 4)}


def privacy_fields(prefix: str, station: dict[str, Any] | None) -> dict[str, bool]:
    now = station or {}
    left, middle, right = st.columns(3)
    return {
        "blur_faces": left.checkbox(
            "Blur faces",
            value=bool(now.get("blur_faces")),
            key=f"{prefix}-faces",
            help="Faces are blurred before the photo is stored.",
        ),
        "blur_people": middle.checkbox(
            "Blur whole people",
            value=bool(now.get("blur_people")),
            key=f"{prefix}-people",
            help="People, as the gateway's person detector finds them, are blurred before the photo is stored.",
        ),
        "unusual_needs_review": right.checkbox(
            "Unusual photos need a check",
            value=bool(now.get("unusual_needs_review")),
            key=f"{prefix}-unusual",
            help="A dark, blurred or moved photo, or one unlike the station's recent ones, is never `success`.",
        ),
    }


def policy_fields(prefix: str, station: dict[str, Any] | None) -> dict[str, Any]:
    now = {**station_tables.POLICY_DEFAULTS, **((station or {}).get("training") or {})}
    with st.expander("Training policy", expanded=False):
        st.caption("How operators' corrections at this station become training data and new models.")
        left, right = st.columns(2)
        dataset = left.text_input(
            "Dataset for feedback",
            value=now["dataset"] or "",
            max_chars=100,
            key=f"{prefix}-dataset",
            placeholder="the station's name",
            help="Feedback marked 'use for training' goes to this registry dataset.",
        )
        retrain = right.number_input(
            "Cut a dataset version after this many feedback items",
            min_value=1,
            max_value=100_000,
            value=now["retrain_after"],
            step=10,
            key=f"{prefix}-retrain",
            placeholder="never automatically",
        )
        left, right = st.columns(2)
        auto_train = left.checkbox(
            "Train on every version cut", value=bool(now["auto_train"]), key=f"{prefix}-auto-train"
        )
        auto_promote = right.checkbox(
            "Promote a better model without a person",
            value=bool(now["auto_promote"]),
            key=f"{prefix}-auto-promote",
            help="A trained model that beats production becomes production.",
        )
        metrics = list(dict.fromkeys([*METRICS, now["selection_metric"] or ""]))
        metric = left.selectbox(
            "Selection metric",
            metrics,
            index=metrics.index(now["selection_metric"] or ""),
            key=f"{prefix}-metric",
            format_func=lambda m: (
                m or "default (mAP50-95 for detect, mask_mAP50-95 for segment, accuracy for classify)"
            ),
        )
        architecture = right.text_input(
            "Architecture",
            value=now["architecture"] or "",
            max_chars=69,
            key=f"{prefix}-architecture",
            placeholder="the mode's own (yolov8n.yaml, yolov8n-seg.yaml, yolov8n-cls.yaml)",
            help="An Ultralytics model YAML trained from scratch; empty: the station mode's nano model.",
        )
        first, second, third = st.columns(3)
        epochs = first.number_input(
            "Epochs", min_value=1, max_value=1000, value=int(now["epochs"]), key=f"{prefix}-epochs"
        )
        imgsz = second.number_input(
            "Image size",
            min_value=32,
            max_value=2048,
            value=int(now["imgsz"]),
            step=32,
            key=f"{prefix}-imgsz",
        )
        batch = third.number_input(
            "Batch", min_value=1, max_value=256, value=int(now["batch"]), key=f"{prefix}-batch"
        )
    return station_tables.training_policy(
        {
            "dataset": dataset,
            "retrain_after": retrain,
            "auto_train": auto_train,
            "auto_promote": auto_promote,
            "selection_metric": metric,
            "architecture": architecture,
            "epochs": epochs,
            "imgsz": imgsz,
            "batch": batch,
        }
    )


def station_fields(prefix: str, station: dict[str, Any] | None, models: list[ModelOut]) -> dict[str, Any]:
    """Every setting of a station as the gateway's body, the fields filled from `station` (None: a new
    one). The widgets are keyed by `prefix`, so what a person typed stays while the gateway refuses it."""
    name, alias, mode = model_fields(prefix, station, models)
    classes = model_classes(next((m for m in models if m.name == name), None), alias)
    body: dict[str, Any] = {"model_name": name, "model_alias": alias}
    body["shadow_alias"] = shadow_field(
        prefix, station, next((m for m in models if m.name == name), None), alias
    )
    body.update(items_fields(f"{prefix}-{name}-{alias}", station, mode, classes))
    body["thresholds"] = threshold_fields(prefix, station)
    body.update(privacy_fields(prefix, station))
    body["description"] = st.text_area(
        "Description",
        value=station["description"] if station else "",
        max_chars=2000,
        height=68,
        key=f"{prefix}-description",
    )
    body["training"] = policy_fields(prefix, station)
    return body
