"""Inspect: an operator takes or uploads a photo at a station, sees OK / NOK, and says whether it was right."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

from typing import Any, Literal

import streamlit as st

from linesight_ui import resources, tables
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, role_gap, show_key

RESULT = "inspect_result"  # the last inspection answer, kept across reruns for the feedback buttons
FEEDBACK = "inspect_feedback"  # {inspection id: the feedback answer}
WRONG = "inspect_wrong"  # the inspection whose "Wrong" form is open
PHOTO_TYPES = ["jpg", "jpeg", "png", "webp", "bmp", "tif", "tiff"]
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
if station["mode"] == "detect":
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
    if at["mode"] == "detect":
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
    """Save the feedback and show the page again with it; a refusal stays on screen."""
    answer = ask(
        lambda: gateway.give_feedback(inspection_id, body),
        action="save the feedback",
        needs="operator",
        stop=False,
    )
    if answer is not None:
        st.session_state.setdefault(FEEDBACK, {})[inspection_id] = answer
        st.session_state.pop(WRONG, None)
        st.rerun()


def feedback_saved(answer: dict[str, Any]) -> None:
    if answer["correct"]:
        said = "the answer was right"
    else:
        said = f"the answer was wrong; it should have been {answer['corrected_verdict']}"
    changed = f" (changed, revision {answer['revision']})" if answer["revision"] > 1 else ""
    st.success(f"Feedback saved: {said}{changed}.", icon=":material/thumb_up:")
    link = answer.get("dataset")
    if link and link.get("error"):
        st.warning(f"Not in the training dataset yet: {link['error']}. The gateway keeps trying.")
    elif link and link.get("synced"):
        st.caption(f"The photo is in training dataset {link['dataset']}.")
    elif answer["use_for_training"]:
        st.caption("The photo goes to the station's training dataset in a moment.")


def wrong_detect(inspection: dict[str, Any], at: dict[str, Any]) -> None:
    expected = {e["label"]: e["min_count"] for e in at["expected_items"]}
    labels = list(dict.fromkeys([*expected, *inspection["counts"]]))
    with st.form(f"wrong-{inspection['id']}"):
        st.write("How many of each item are really on the photo?")
        counts = {
            label: int(
                st.number_input(
                    label,
                    min_value=0,
                    max_value=1000,
                    value=int(inspection["counts"].get(label, 0)),
                    step=1,
                    key=f"count-{inspection['id']}-{label}",
                )
            )
            for label in labels
        }
        notes = st.text_input("Notes (optional)", max_chars=4000)
        st.caption(
            "Counts are kept with the inspection and count toward the model's accuracy, but they cannot be "
            "used for training: a detector learns from a box drawn around every item, which this screen "
            "does not draw. To use a photo for training, confirm a correct answer with “Use for training”."
        )
        sent = st.form_submit_button("Send correction", type="primary")
    if sent:
        verdict = "NOK" if any(counts.get(label, 0) < need for label, need in expected.items()) else "OK"
        body = {"correct": False, "corrected_verdict": verdict, "corrected_counts": counts, "notes": notes}
        send_feedback(inspection["id"], body)


def wrong_classify(inspection: dict[str, Any], at: dict[str, Any]) -> None:
    model = inspection["model"]
    version = ask(
        lambda: gateway.model_version(model["name"], model["version"]),
        action="read the model's classes",
        stop=False,
    )
    if version is None:
        return
    classes = sorted(version.class_names.values())
    with st.form(f"wrong-{inspection['id']}"):
        right = st.selectbox("The right class", classes, key=f"class-{inspection['id']}")
        use = st.checkbox("Use this photo for training", key=f"class-train-{inspection['id']}")
        notes = st.text_input("Notes (optional)", max_chars=4000)
        sent = st.form_submit_button("Send correction", type="primary")
    if sent:
        verdict = "OK" if right in at["ok_classes"] else "NOK"
        body = {
            "correct": False,
            "corrected_verdict": verdict,
            "corrected_class": right,
            "use_for_training": use,
            "notes": notes,
        }
        send_feedback(inspection["id"], body)


def feedback_section(inspection: dict[str, Any], at: dict[str, Any]) -> None:
    st.subheader("Was this answer right?")
    saved = st.session_state.get(FEEDBACK, {}).get(inspection["id"])
    if saved is not None:
        feedback_saved(saved)
    use = st.checkbox(
        "Use for training",
        key=f"train-{inspection['id']}",
        help="With “Correct”: the photo joins the station's training dataset, labelled with the model's "
        "own answer.",
    )
    right, wrong = st.columns(2)
    if right.button("Correct", icon=":material/thumb_up:", key=f"right-{inspection['id']}", width="stretch"):
        send_feedback(inspection["id"], {"correct": True, "use_for_training": use})
    if wrong.button("Wrong", icon=":material/thumb_down:", key=f"wrong-{inspection['id']}", width="stretch"):
        st.session_state[WRONG] = inspection["id"]
    if st.session_state.get(WRONG) == inspection["id"]:
        (wrong_detect if at["mode"] == "detect" else wrong_classify)(inspection, at)


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
    if st.button("Check again", icon=":material/refresh:"):
        fresh = ask(lambda: gateway.inspection(shown_id), action="read the inspection", stop=False)
        if fresh is not None:
            st.session_state[RESULT] = fresh
            st.rerun()
    st.stop()

left, right = st.columns([3, 2])
with left:
    picture = ask(lambda: gateway.inspection_image(shown_id), action="load the annotated photo", stop=False)
    if picture is not None:
        st.image(picture, caption=f"Inspection {shown_id}", width="stretch")
with right:
    verdict_banner(inspection)
    findings(inspection, at_station)
feedback_section(inspection, at_station)
