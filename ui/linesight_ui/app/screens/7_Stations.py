"""Stations (admins): every station; for the one picked its figures over time (inspections and NOK rate
per day, accuracy from operators' feedback per model version), its settings (the shadow alias among
them), its reference photo, its promotion gate and shadow figures, and deactivating or deleting it; and a
new station."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

from typing import Any

import streamlit as st

from linesight_core.contracts.registry import ModelOut
from linesight_ui import evidence_views, resources, station_tables
from linesight_ui.gateway import GatewayError, GatewayKeyRejected, GatewayUnreachable
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, message, role_gap, show_key
from linesight_ui.resources import PHOTO_TYPES
from linesight_ui.station_forms import TASKS, station_fields
from linesight_ui.station_sections import (
    FLASH,
    figures,
    photo_section,
    retire_section,
    settings_section,
)
from linesight_ui.tables import when

STATIONS, NEW = "Stations", "New station"
VIEW = "stations_view"
PICK = "stations_pick"  # the station open in the Stations view (its id)
GOTO = "stations_goto"  # the view and station to open on the next run (set before their widgets are drawn)
WARN = "stations_warn"  # what went wrong with it (a new station whose photo was refused), shown once
NEW_FORM = "stations_new_form"  # bumped after a station is created: the next form starts empty

st.set_page_config(
    page_title="Stations · LineSight", page_icon=":material/precision_manufacturing:", layout="wide"
)
record_page_view("stations", st.session_state)
show_key()
gateway = resources.gateway()


# --- one station ------------------------------------------------------------------------------------


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
            "The registry has no detect, classify or segment model yet. An engineer uploads one (or a training run "
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
