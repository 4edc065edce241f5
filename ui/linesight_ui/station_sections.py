"""The tabs of one station on the Stations page (Streamlit): its figures over time, its settings saved,
its reference photo, and deactivating or deleting it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import streamlit as st

from linesight_core.contracts.registry import ModelOut
from linesight_ui import resources, station_tables
from linesight_ui.problems import ask
from linesight_ui.resources import PHOTO_TYPES
from linesight_ui.station_forms import station_fields

FLASH = "stations_flash"  # what the last change did, shown once on the next run
PERIODS = {"last 7 days": 7, "last 30 days": 30, "last 90 days": 90, "all time": None}
CHART_COLOURS = ["#2e9d5b", "#d9453b", "#9aa0a6"]  # OK, NOK, pending


def figures(station: dict[str, Any]) -> None:
    gateway = resources.gateway()
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
    gateway = resources.gateway()
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
    gateway = resources.gateway()
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
    gateway = resources.gateway()
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
