"""Stations (admins): every station; for the one picked its figures over time (inspections and NOK rate
per day, accuracy from operators' feedback per model version), its settings (the shadow alias among
them), its reference photo, its promotion gate and shadow figures, and deactivating or deleting it; and a
new station."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from linesight_core.contracts.registry import ModelOut
from linesight_ui import evidence_views, resources, station_tables
from linesight_ui.gateway import GatewayError, GatewayKeyRejected, GatewayUnreachable
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, message, role_gap, show_key
from linesight_ui.tables import when

STATIONS, NEW = "Stations", "New station"
VIEW = "stations_view"
PICK = "stations_pick"  # the station open in the Stations view (its id)
GOTO = "stations_goto"  # the view and station to open on the next run (set before their widgets are drawn)
FLASH = "stations_flash"  # what the last change did, shown once on the next run
WARN = "stations_warn"  # what went wrong with it (a new station whose photo was refused), shown once
NEW_FORM = "stations_new_form"  # bumped after a station is created: the next form starts empty
OFF = "off"  # no shadow alias
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]
TASKS = ("detect", "classify")  # the model tasks a station can use (its mode)
# The champion/challenger metric; "" is the gateway's default for the station's mode.
METRICS = ["", "mAP50-95", "mAP50", "precision", "recall", "accuracy", "top1", "top5"]
PERIODS = {"last 7 days": 7, "last 30 days": 30, "last 90 days": 90, "all time": None}
CHART_COLOURS = ["#2e9d5b", "#d9453b", "#9aa0a6"]  # OK, NOK, pending

st.set_page_config(
    page_title="Stations · LineSight", page_icon=":material/precision_manufacturing:", layout="wide"
)
record_page_view("stations", st.session_state)
show_key()
gateway = resources.gateway()


# --- the fields of a station ------------------------------------------------------------------------


def model_classes(model: ModelOut | None, alias: str) -> list[str] | None:
    """The class names of the version `alias` points at, in the model's order; None when it points at
    none yet (the gateway checks the station's labels at inspection time then)."""
    version = model.aliases.get(alias) if model else None
    if model is None or version is None:
        return None
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
        help="A detect model makes a station that counts expected items; a classify model one with OK classes.",
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
    """Expected items with their counts (detect) or the OK classes (classify), from the model's classes."""
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
            format_func=lambda m: m or "default (mAP50-95 for detect, accuracy for classify)",
        )
        architecture = right.text_input(
            "Architecture", value=now["architecture"], max_chars=69, key=f"{prefix}-architecture"
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


# --- one station ------------------------------------------------------------------------------------


def figures(station: dict[str, Any]) -> None:
    sid = str(station["id"])
    period = st.segmented_control(
        "Period",
        list(PERIODS),
        default="last 30 days",
        key=f"stations-period-{sid}",
        label_visibility="collapsed",
    )
    days = PERIODS.get(period or "all time")
    since = datetime.now(UTC) - timedelta(days=days) if days else None
    stats = ask(
        lambda: gateway.station_stats(sid, since=since), action="read the station's figures", stop=False
    )
    if stats is None:
        return
    cells = st.columns(5)
    cells[0].metric("Inspections", stats["inspections"])
    cells[1].metric("NOK rate", station_tables.percent(stats["nok_rate"]))
    cells[2].metric("Pending", stats["pending"])
    cells[3].metric(
        "Low confidence",
        stats["confidence"].get("low_confidence", 0),
        help="Answers less sure than the success threshold but at least the low-confidence one: a person "
        "should check them.",
    )
    cells[4].metric(
        "Too unsure",
        stats["confidence"].get("rejected", 0),
        help="Answers below the low-confidence threshold (confidence status `rejected`): too unsure to "
        "act on; a person decides.",
    )
    if not stats["inspections"]:
        st.info("No inspection at this station in this period yet.", icon=":material/monitoring:")
        return
    per_day = station_tables.per_day_frame(stats)
    left, right = st.columns(2)
    with left:
        st.markdown("**Inspections per day**")
        st.bar_chart(
            per_day[["OK", "NOK", "pending"]], color=CHART_COLOURS, x_label="day", y_label="inspections"
        )
    with right:
        st.markdown("**NOK rate per day**")
        # bars, not a line: a station's first day is one point, which a line chart does not draw
        st.bar_chart(per_day[["NOK rate"]], x_label="day", y_label="NOK rate", color=CHART_COLOURS[1])
    versions = station_tables.per_version_frame(stats)
    if versions.empty:
        return
    left, right = st.columns(2)
    with left:
        st.markdown("**Accuracy from feedback, per model version**")
        if versions["accuracy"].notna().any():
            st.bar_chart(versions[["accuracy"]], x_label="model version", y_label="accuracy")
        else:
            st.caption("No feedback yet: accuracy is measured from what operators confirmed or corrected.")
    with right:
        st.markdown("**NOK rate per model version**")
        st.bar_chart(
            versions[["NOK rate"]], x_label="model version", y_label="NOK rate", color=CHART_COLOURS[1]
        )
    st.dataframe(versions)


def settings_section(station: dict[str, Any], models: list[ModelOut]) -> None:
    sid = str(station["id"])
    saves = f"stations-saves-{sid}"  # a saved change starts the fields again from the station's values
    prefix = f"edit-{sid}-{st.session_state.get(saves, 0)}"
    body = station_fields(prefix, station, models)
    state = station_tables.training_state_text(station.get("training_state") or {})
    if state:
        st.caption(f"Feedback loop: {state}")
    if st.button("Save changes", type="primary", icon=":material/save:", key=f"{prefix}-save"):
        changed = station_tables.changes(station, body)
        if not changed:
            st.info("Nothing changed.", icon=":material/info:")
            return
        saved = ask(
            lambda: gateway.update_station(sid, changed), action="save the station", needs="admin", stop=False
        )
        if saved is not None:
            st.session_state[FLASH] = (
                f"Station {saved['name']} saved: {station_tables.changes_text(changed)}."
            )
            st.session_state[saves] = st.session_state.get(saves, 0) + 1
            st.rerun()


def photo_section(station: dict[str, Any]) -> None:
    sid = str(station["id"])
    left, right = st.columns(2)
    with left:
        if station["has_reference_image"]:
            # b"": the gateway has no photo (gone from storage); None: it could not be asked (the error says)
            photo = ask(
                lambda: gateway.reference_image(sid) or b"", action="load the reference photo", stop=False
            )
            if photo:
                st.image(photo, caption=f"Reference photo of {station['name']}", width="stretch")
            elif photo == b"":
                st.warning("The reference photo is gone from storage: upload it again.")
        else:
            st.info("No reference photo yet: it shows operators what a good photo looks like.")
    with right:
        key = f"stations-photo-{sid}-{station['updated_at']}"
        upload = st.file_uploader("New reference photo", type=PHOTO_TYPES, key=key)
        if st.button(
            "Upload the reference photo", icon=":material/upload:", disabled=upload is None, key=f"{key}-go"
        ):
            assert upload is not None
            saved = ask(
                lambda: gateway.set_reference_image(
                    sid, upload.getvalue(), upload.name, upload.type or "application/octet-stream"
                ),
                action="upload the reference photo",
                needs="admin",
                stop=False,
            )
            if saved is not None:
                st.session_state[FLASH] = f"Station {saved['name']} has a new reference photo."
                st.rerun()


def retire_section(station: dict[str, Any]) -> None:
    sid, name = str(station["id"]), station["name"]
    left, right = st.columns(2)
    with left:
        if station["active"]:
            st.caption("A deactivated station takes no new inspections; its history stays.")
            label, icon, active = "Deactivate the station", ":material/pause_circle:", False
        else:
            st.caption("The station takes no inspections now.")
            label, icon, active = "Activate the station", ":material/play_circle:", True
        if st.button(label, icon=icon, key=f"stations-active-{sid}"):
            saved = ask(
                lambda: gateway.update_station(sid, {"active": active}),
                action=label[0].lower() + label[1:],
                needs="admin",
                stop=False,
            )
            if saved is not None:
                st.session_state[FLASH] = f"Station {name} is {'active' if active else 'deactivated'}."
                st.rerun()
    with right:
        st.caption("Only a station without inspections can be deleted.")
        sure = st.checkbox(f"Yes, delete {name} for good", key=f"stations-delete-sure-{sid}")
        if st.button(
            "Delete the station", icon=":material/delete:", disabled=not sure, key=f"stations-delete-{sid}"
        ):

            def delete() -> bool:
                gateway.delete_station(sid)
                return True

            if ask(delete, action="delete the station", needs="admin", stop=False):
                st.session_state[FLASH] = f"Station {name} is deleted."
                st.rerun()  # the next run opens the first station left


def station_view(stations: list[dict[str, Any]], models: list[ModelOut]) -> None:
    if not stations:
        st.info("No station yet: make the first one under New station.", icon=":material/info:")
        return
    st.dataframe(station_tables.stations_table(stations), hide_index=True)
    by_id = {str(s["id"]): s for s in stations}
    if st.session_state.get(PICK) not in by_id:
        st.session_state[PICK] = next(iter(by_id))
    picked = st.selectbox(
        "Station",
        list(by_id),
        key=PICK,
        # the name only: a label that changes (say, with the station's state) makes Streamlit take the
        # selectbox for a new one, which opens the first station on the run after
        format_func=lambda i: by_id[i]["name"],
    )
    station = by_id[picked]
    facts = [
        "active" if station["active"] else "deactivated: takes no inspections",
        station["mode"],
        f"{station['model_name']}@{station['model_alias']}",
        station_tables.items_text(station),
    ]
    st.caption(" · ".join(facts) + f" · changed {when(station['updated_at'])}")
    # The settings are drawn in every run, so what was typed there stays while another tab is open; the
    # figures and the photo are asked of the gateway only while their tab is open.
    tabs = st.tabs(
        ["Figures", "Settings", "Reference photo", "Promotion evidence", "Deactivate or delete"],
        key=f"stations-tab-{picked}",
        on_change="rerun",
    )
    with tabs[0]:
        if tabs[0].open:
            figures(station)
    with tabs[1]:
        settings_section(station, models)
    with tabs[2]:
        if tabs[2].open:
            photo_section(station)
    with tabs[3]:
        if tabs[3].open:
            evidence_views.station_gate_panel(station)
            st.markdown("**Shadow mode**")
            evidence_views.shadow_panel(station)
    with tabs[4]:
        retire_section(station)


# --- a new station ----------------------------------------------------------------------------------


def new_view(models: list[ModelOut]) -> None:
    if not any(m.task in TASKS for m in models):
        st.info(
            "The registry has no detect or classify model yet. An engineer uploads one (or a training run "
            "registers one); then a station can use it.",
            icon=":material/info:",
        )
        return
    prefix = f"new-{st.session_state.get(NEW_FORM, 0)}"
    name = st.text_input(
        "Name",
        max_chars=100,
        key=f"{prefix}-name",
        placeholder="line-3-bench",
        help="Lower-case letters, digits, '.', '_' and '-'; it cannot be changed later.",
    )
    body = station_fields(prefix, None, models)
    active = st.checkbox("Active: takes inspections at once", value=True, key=f"{prefix}-active")
    photo = st.file_uploader("Reference photo (optional)", type=PHOTO_TYPES, key=f"{prefix}-photo")
    if not st.button("Create the station", type="primary", icon=":material/add:", key=f"{prefix}-create"):
        return
    if not name.strip():
        st.error("Give the station a name.", icon=":material/error:")
        return
    mode = next((m.task for m in models if m.name == body["model_name"]), "detect")
    request = {"name": name.strip(), "mode": mode, "active": active, **body}
    created = ask(
        lambda: gateway.create_station(request), action="create the station", needs="admin", stop=False
    )
    if created is None:
        return
    flash = f"Station {created['name']} created."
    if photo is not None:
        try:
            gateway.set_reference_image(
                str(created["id"]), photo.getvalue(), photo.name, photo.type or "application/octet-stream"
            )
            flash = f"Station {created['name']} created, with its reference photo."
        except (GatewayError, GatewayKeyRejected, GatewayUnreachable) as exc:
            # the station is there: the message goes with it, and the photo can be uploaded again there
            why = message(exc, action="upload the reference photo", needs="admin")
            st.session_state[WARN] = f"{flash} {why}"
            flash = ""
    if flash:
        st.session_state[FLASH] = flash
    st.session_state[NEW_FORM] = st.session_state.get(NEW_FORM, 0) + 1
    st.session_state[GOTO] = str(created["id"])
    st.rerun()


st.title("Stations")
if not role_gap("admin", to="set up stations"):
    st.stop()
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/task_alt:")
if WARN in st.session_state:
    st.warning(st.session_state.pop(WARN), icon=":material/warning:")
goto = st.session_state.pop(GOTO, None)
if goto is not None:
    st.session_state[VIEW], st.session_state[PICK] = STATIONS, goto
stations = ask(gateway.stations, action="list the stations") or []
models = ask(gateway.models, action="list the models", stop=False) or []
view = st.radio("View", [STATIONS, NEW], horizontal=True, key=VIEW, label_visibility="collapsed")
if view == NEW:
    new_view(models)
else:
    station_view(stations, models)
