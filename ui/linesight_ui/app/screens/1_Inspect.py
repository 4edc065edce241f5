"""Inspect: an operator takes or uploads a photo at a station, sees OK / NOK, and says whether it was right."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import streamlit as st

from linesight_ui import box_correction, mask_correction, mask_overlay, resources, tables
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, role_gap, show_key
from linesight_ui.resources import PHOTO_TYPES

RESULT = "inspect_result"  # the last inspection answer, kept across reruns for the feedback buttons
WRONG = "inspect_wrong"  # the inspection whose "Wrong" form is open
PENDING_POLL_SECONDS = 5  # how often a pending inspection is read again while it is shown
BadgeColor = Literal["green", "orange", "red", "gray"]
CONFIDENCE: dict[str, tuple[str, BadgeColor, str | None]] = {
    "success": ("sure", "green", ":material/verified:"),
    "low_confidence": ("low confidence: check by eye", "orange", ":material/warning:"),
    "rejected": ("model unsure: check by eye", "red", ":material/help:"),
}

st.set_page_config(page_title="Inspect · LineSight", page_icon=":material/photo_camera:", layout="wide")
record_page_view("inspect", st.session_state)
show_key()
gateway = resources.gateway()

st.title("Inspect")
stations = ask(lambda: gateway.stations(active=True), action="list the stations") or []
if not stations:
    st.info("There is no active station yet. An admin creates stations through the gateway's API.")
    st.stop()
by_id = {s["id"]: s for s in stations}
station_id = st.selectbox(
    "Station",
    list(by_id),
    format_func=lambda i: f"{by_id[i]['name']} ({by_id[i]['mode']})",
    key="inspect_station",
)
station = by_id[station_id]
if station["mode"] == "segment":
    rules = ", ".join(str(r.get("label")) for r in station.get("defect_rules") or [])
    st.caption(f"Defects looked for: {rules or 'none set yet'}. {station['description']}")
elif station["mode"] == "detect":
    wanted = ", ".join(f"{e['label']} × {e['min_count']}" for e in station["expected_items"])
    st.caption(f"Expected on the photo: {wanted or 'nothing in particular'}. {station['description']}")
else:
    st.caption(f"OK classes: {', '.join(station['ok_classes']) or 'none'}. {station['description']}")

if not role_gap("operator", to="inspect photos"):
    st.stop()
source = st.radio("Photo from", ["Camera", "File"], horizontal=True, key="inspect_source")
if source == "Camera":
    photo = st.camera_input("Take a photo", key="inspect_camera")
else:
    photo = st.file_uploader("Upload a photo", type=PHOTO_TYPES, key="inspect_file")

clicked = st.button("Inspect", type="primary", icon=":material/search:", disabled=photo is None)
if clicked and photo is not None:
    data, filename, content_type = photo.getvalue(), photo.name, photo.type or "application/octet-stream"
    with st.spinner("The model is looking at the photo…", show_time=True):
        answer = ask(
            lambda: gateway.inspect(station_id, data, filename, content_type),
            action="inspect the photo",
            needs="operator",
            stop=False,
        )
    if answer is not None:
        st.session_state[RESULT] = answer
        st.session_state.pop(WRONG, None)


def verdict_banner(inspection: dict[str, Any]) -> None:
    ok = inspection["verdict"] == "OK"
    color, icon = ("green", ":material/check_circle:") if ok else ("red", ":material/cancel:")
    st.markdown(f"# :{color}-background[{icon} {inspection['verdict']}]")
    unknown: tuple[str, BadgeColor, str | None] = ("unknown confidence", "gray", None)
    label, badge_color, badge_icon = CONFIDENCE.get(inspection["confidence_status"] or "", unknown)
    confidence = inspection["confidence"]
    st.badge(label, color=badge_color, icon=badge_icon)
    if confidence is not None:
        st.caption(f"Confidence {confidence:.0%}")


def findings(inspection: dict[str, Any], at: dict[str, Any]) -> None:
    if inspection.get("unusual"):
        st.warning(
            f"**Unusual photo:** {tables.unusual_text(inspection['unusual'])}. It is unlike this station's "
            "recent photos or its reference photo: check the camera and the light, and the answer by eye.",
            icon=":material/visibility:",
        )
    for m in inspection["missing"]:
        st.markdown(f":red[**Missing:** {m['label']}] (expected {m['expected']}, found {m['found']})")
    for u in inspection["unexpected"]:
        st.markdown(f":orange[**Unexpected:** {u['label']}] × {u['count']}")
    if mask_overlay.is_segment(inspection, at):
        mask_overlay.show_rules(inspection)
    elif at["mode"] == "detect":
        st.dataframe(tables.expected_counts(at, inspection["counts"]), hide_index=True)
    else:
        top = [
            {"class": p.get("label"), "confidence": p.get("confidence")} for p in inspection["predictions"]
        ]
        st.dataframe(top, hide_index=True)
    model = inspection["model"]
    st.caption(f"Model {model['name']} v{model['version']} ({model['alias']})")
    st.caption(f"Timings: {tables.timings_text(inspection['timings_ms'])}")


def send_feedback(inspection_id: str, body: dict[str, Any]) -> None:
    box_correction.send(gateway, inspection_id, body, after=lambda: st.session_state.pop(WRONG, None))


def feedback_saved(answer: dict[str, Any]) -> None:
    if answer["correct"]:
        said = "the answer was right"
    else:
        said = f"the answer was wrong; it should have been {answer['corrected_verdict']}"
        if answer.get("corrected_boxes") is not None:
            n = len(answer["corrected_boxes"])
            said += f", with {n} box{'es' if n != 1 else ''}"
        if answer.get("instances") is not None:
            n = len(answer["instances"])
            said += f", with {n} outline{'s' if n != 1 else ''}"
    changed = f" (changed, revision {answer['revision']})" if answer["revision"] > 1 else ""
    st.success(f"Feedback saved: {said}{changed}.", icon=":material/thumb_up:")
    link = answer.get("dataset")
    if link and link.get("error"):
        st.warning(f"Not in the training dataset yet: {link['error']}. The gateway keeps trying.")
    elif link and link.get("synced"):
        st.caption(f"The photo is in training dataset {link['dataset']}.")
    elif answer["use_for_training"]:
        st.caption("The photo goes to the station's training dataset in a moment.")


def feedback_section(inspection: dict[str, Any], at: dict[str, Any]) -> None:
    st.subheader("Was this answer right?")
    saved = st.session_state.get(box_correction.FEEDBACK, {}).get(inspection["id"])
    if saved is not None:
        feedback_saved(saved)
    use = st.checkbox(
        "Use for training",
        key=f"train-{inspection['id']}",
        help="With “Correct”: the photo joins the station's training dataset, labelled with the model's "
        "own answer. “Wrong” asks for the right answer, to use for training as well.",
    )
    right, wrong = st.columns(2)
    if right.button("Correct", icon=":material/thumb_up:", key=f"right-{inspection['id']}", width="stretch"):
        send_feedback(inspection["id"], {"correct": True, "use_for_training": use})
    if wrong.button("Wrong", icon=":material/thumb_down:", key=f"wrong-{inspection['id']}", width="stretch"):
        st.session_state[WRONG] = inspection["id"]
    if st.session_state.get(WRONG) == inspection["id"]:
        editor = mask_correction.segment_correction if at["mode"] == "segment" else box_correction.correction
        editor(
            gateway,
            inspection,
            at,
            key="inspect",
            given=saved,
            after=lambda: st.session_state.pop(WRONG, None),
        )


@st.fragment(run_every=PENDING_POLL_SECONDS)
def waiting_for_the_model(inspection_id: str) -> None:
    """Asks the gateway every few seconds (or on "Check again") and shows the answer once it is there."""
    with st.spinner("Waiting for the model…"):
        fresh = ask(lambda: gateway.inspection(inspection_id), action="read the inspection", stop=False)
    if fresh is not None and fresh["status"] != "pending":
        st.session_state[RESULT] = fresh
        st.rerun(scope="app")
    checked = datetime.now(UTC).strftime("%H:%M:%S")
    st.caption(f"Still waiting (checked {checked} UTC; checked again every {PENDING_POLL_SECONDS} s).")
    st.button("Check again", icon=":material/refresh:", key=f"again-{inspection_id}")


inspection: dict[str, Any] | None = st.session_state.get(RESULT)
if inspection is None:
    st.stop()
shown_id: str = inspection["id"]
st.divider()
at_station = by_id.get(inspection["station_id"], station)
if inspection["station_id"] != station_id:
    st.caption(f"The last photo, taken at {at_station['name']}:")

if inspection["status"] == "pending":
    st.warning(
        f"The photo is kept (inspection {inspection['id']}), but the model could not answer yet"
        f" ({inspection.get('error') or 'no answer'}). It will be judged automatically when the model is "
        "back; the answer then appears in History.",
        icon=":material/hourglass_top:",
    )
    waiting_for_the_model(shown_id)
    st.stop()

left, right = st.columns([3, 2])
with left:
    if mask_overlay.is_segment(inspection, at_station):
        mask_overlay.show_photo(gateway, inspection, at_station)
    else:
        picture = ask(
            lambda: gateway.inspection_image(shown_id), action="load the annotated photo", stop=False
        )
        if picture is not None:
            st.image(picture, caption=f"Inspection {shown_id}", width="stretch")
with right:
    verdict_banner(inspection)
    findings(inspection, at_station)
feedback_section(inspection, at_station)
