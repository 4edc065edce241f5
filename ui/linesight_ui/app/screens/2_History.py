"""History: every inspection, filtered and paged, with the photo and the feedback of the one picked."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import streamlit as st

from linesight_ui import box_correction, mask_correction, mask_overlay, resources, signin, tables
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, show_key

ANY = "any"
VERDICTS = [ANY, "OK", "NOK", "pending"]
CONFIDENCE = [ANY, "success", "low_confidence", "rejected"]
FEEDBACK = {ANY: None, "with feedback": True, "without feedback": False}
UNUSUAL = {ANY: None, "unusual": True, "usual": False}
PAGE_SIZES = [25, 50, 100, 200]

st.set_page_config(page_title="History · LineSight", page_icon=":material/history:", layout="wide")
record_page_view("history", st.session_state)
show_key()
gateway = resources.gateway()

st.title("History")
stations = ask(lambda: gateway.stations(), action="list the stations") or []
names = {s["id"]: s["name"] for s in stations}

with st.container(border=True):
    first, second, third = st.columns(3)
    station_id = first.selectbox(
        "Station", [ANY, *names], format_func=lambda i: names.get(i, i), key="history_station"
    )
    verdict = second.selectbox("Verdict", VERDICTS, key="history_verdict")
    confidence = third.selectbox("Confidence", CONFIDENCE, key="history_confidence")
    first, second, third = st.columns(3)
    feedback = first.selectbox("Feedback", list(FEEDBACK), key="history_feedback")
    days = second.date_input(
        "Dates (UTC)", value=[], key="history_dates", help="One day, or a first and a last day; empty: all"
    )
    page_size = third.selectbox("Per page", PAGE_SIZES, index=1, key="history_page_size")
    unusual = first.selectbox(
        "Photo",
        list(UNUSUAL),
        key="history_unusual",
        help="unusual: photos flagged as unlike the station's recent photos or its reference photo",
    )


def day_range(picked: Any) -> tuple[datetime | None, datetime | None]:
    """The picked days as [since, until): a first day alone means that day and every day after."""
    chosen = [d for d in (picked if isinstance(picked, tuple | list) else [picked]) if isinstance(d, date)]
    if not chosen:
        return None, None
    since = datetime.combine(chosen[0], time.min, tzinfo=UTC)
    until = (
        datetime.combine(chosen[-1], time.min, tzinfo=UTC) + timedelta(days=1) if len(chosen) > 1 else None
    )
    return since, until


since, until = day_range(days)
filters: dict[str, Any] = {
    "station_id": None if station_id == ANY else station_id,
    "verdict": verdict if verdict in ("OK", "NOK") else None,
    "status": "pending" if verdict == "pending" else None,
    "confidence_status": None if confidence == ANY else confidence,
    "has_feedback": FEEDBACK[feedback],
    "unusual": UNUSUAL[unusual],
    "since": since,
    "until": until,
}
# A new filter starts again at page 1.
if st.session_state.get("history_filters") != (filters, page_size):
    st.session_state["history_filters"] = (filters, page_size)
    st.session_state["history_page"] = 1
page_number = int(st.session_state.get("history_page", 1))

result = ask(
    lambda: gateway.inspections(**filters, limit=page_size, offset=(page_number - 1) * page_size),
    action="read the inspection history",
)
assert result is not None  # ask() stops the page on failure
total = int(result["total"])
pages = max(1, math.ceil(total / page_size))
items: list[dict[str, Any]] = result["items"]

summary, pager = st.columns([3, 1], vertical_alignment="bottom")
summary.caption(f"{total} inspection{'s' if total != 1 else ''} · page {page_number} of {pages}")
pager.number_input("Page", min_value=1, max_value=pages, step=1, key="history_page")
if not items:
    st.info("No inspection matches these filters.")
    st.stop()
st.dataframe(tables.inspections_table(items, names), hide_index=True)

by_id = {i["id"]: i for i in items}
picked = st.selectbox(
    "Show inspection",
    list(by_id),
    format_func=lambda i: (
        f"{tables.when(by_id[i]['created_at'])} · {names.get(by_id[i]['station_id'], '?')} · "
        f"{by_id[i]['verdict'] or 'pending'}"
    ),
    key="history_pick",
)
inspection = by_id[picked]
by_station = {s["id"]: s for s in stations}
station = by_station.get(inspection["station_id"])
segment = mask_overlay.is_segment(inspection, station)

left, right = st.columns([3, 2])
with left:
    annotated = st.toggle(
        "Outlines drawn" if segment else "Boxes and verdict drawn", value=True, key="history_annotated"
    )
    if segment and annotated:
        mask_overlay.show_photo(gateway, inspection, station)
    else:
        picture = ask(
            lambda: gateway.inspection_image(picked, annotated=annotated), action="load the photo", stop=False
        )
        if picture is not None:
            st.image(picture, caption=f"Inspection {picked}", width="stretch")
with right:
    st.subheader(inspection["verdict"] or "pending")
    if inspection["status"] == "pending":
        st.caption(f"Waiting for the model: {inspection.get('error') or 'no answer yet'}")
    else:
        certainty = inspection["confidence"] or 0.0
        st.caption(
            f"Confidence {certainty:.0%} ({inspection['confidence_status']}) · "
            f"model {inspection['model']['name']} v{inspection['model']['version']}"
        )
    if inspection.get("unusual"):
        st.markdown(f":orange[**Unusual photo:** {tables.unusual_text(inspection['unusual'])}]")
    for m in inspection["missing"]:
        st.markdown(f":red[**Missing:** {m['label']}] (expected {m['expected']}, found {m['found']})")
    for u in inspection["unexpected"]:
        st.markdown(f":orange[**Unexpected:** {u['label']}] × {u['count']}")
    if segment and inspection["status"] == "completed":
        mask_overlay.show_rules(inspection)
    if inspection["counts"]:
        st.caption("Counted: " + ", ".join(f"{k} × {n}" for k, n in inspection["counts"].items()))
    st.caption(f"Timings: {tables.timings_text(inspection['timings_ms'])}")
    # A one-item tuple tells "no feedback yet" (None inside) from a failed call (None, shown by ask).
    read = ask(lambda: (gateway.feedback(picked),), action="read the feedback", stop=False)
    given = read[0] if read is not None else None
    if read is not None and given is None:
        st.caption("No feedback yet.")
    elif given is not None:
        verdict_text = "right" if given["correct"] else f"wrong: should be {given['corrected_verdict']}"
        st.markdown(f"**Feedback** (revision {given['revision']}): the answer was {verdict_text}")
        if given.get("corrected_counts"):
            st.caption(
                "Corrected counts: " + ", ".join(f"{k} × {n}" for k, n in given["corrected_counts"].items())
            )
        if given.get("corrected_boxes") is not None:
            labels = Counter(b["label"] for b in given["corrected_boxes"])
            found = ", ".join(f"{k} × {n}" for k, n in labels.items())
            st.caption(
                f"Corrected boxes: {len(given['corrected_boxes'])} ({found or 'nothing on the photo'})"
            )
        if given.get("instances") is not None:
            labels = Counter(i.get("label") for i in given["instances"])
            found = ", ".join(f"{k} × {n}" for k, n in labels.items())
            st.caption(f"Corrected outlines: {len(given['instances'])} ({found or 'no defect on the photo'})")
        if given.get("corrected_class"):
            st.caption(f"Corrected class: {given['corrected_class']}")
        if given.get("notes"):
            st.caption(f"Notes: {given['notes']}")
        if given.get("use_for_training"):
            st.caption("Used for training.")

# a viewer looks only: correcting is feedback (POST /api/v1/inspections/{id}/feedback, operator and up)
if inspection["status"] == "completed" and signin.allows("operator"):
    saved = st.session_state.get(box_correction.FEEDBACK, {}).get(picked)
    if saved is not None:
        st.success(f"Correction saved (revision {saved['revision']}).", icon=":material/thumb_up:")
    if station is not None and st.toggle(
        "Correct this answer",
        key=f"history_correct-{picked}",
        help="Fix the boxes (detect), the outlines (segment) or the class (classify); with “Use for training” the photo joins the "
        "station's training dataset.",
    ):
        editor = mask_correction.segment_correction if segment else box_correction.correction
        editor(gateway, inspection, station, key="history", given=given)
