"""Labels: read a product label from the camera or a file, see its codes on the photo, clear the review
queue (approve, or correct codes in place) and, for engineers, download the export of reviewed reads."""

# ruff: noqa: N999 - Streamlit labels the page in its navigation after this file's name

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import streamlit as st

from linesight_ui import label_tables, resources, signin
from linesight_ui.label_drawing import draw_codes
from linesight_ui.metrics import record_page_view
from linesight_ui.problems import ask, role_gap, show_key
from linesight_ui.resources import PHOTO_TYPES
from linesight_ui.tables import when

ANY = "any"
QUEUE, READ, EXPORT = "Review queue", "Read a label", "Export"
LAST_READ = "labels_last_read"  # the read the "Read a label" view shows, kept across reruns
PICK = "labels_pick"  # the read open in the queue
NEXT = "labels_next"  # the read to open after a review (the picker is set before it is drawn)
FLASH = "labels_flash"  # what the last review did, shown once on the next run
EXPORTED = "labels_export"  # (filters, JSON Lines) of the last export
QUEUE_PAGE = 100
SHORTCUTS = (
    "Keys: **Tab** moves between the code fields, **Enter** in a field saves the codes as they stand "
    "(unchanged: approves them), **Alt+A** approves as read, **Alt+S** saves the correction, **Alt+N** / "
    "**Alt+P** open the next / previous read. After a review the next read in the queue opens by itself."
)

st.set_page_config(page_title="Labels · LineSight", page_icon=":material/barcode_reader:", layout="wide")
record_page_view("labels", st.session_state)
show_key()
gateway = resources.gateway()


def show_photo(read: dict[str, Any]) -> None:
    read_id = str(read["id"])
    photo = ask(lambda: gateway.label_image(read_id), action="load the label photo", stop=False)
    if photo is None:
        return
    try:
        drawn = draw_codes(photo, read["codes"])
    except (OSError, ValueError) as exc:  # a photo Pillow cannot open: shown as stored, without boxes
        st.caption(f"The boxes cannot be drawn on this photo ({exc}).")
        drawn = photo
    st.image(drawn, caption=f"Label read {read_id}", width="stretch")
    st.caption("Boxes: green sure, orange to check, red wrong as read, blue confirmed by a person.")


def show_facts(read: dict[str, Any]) -> None:
    status = read["status"]
    if status == "needs_review":
        st.badge("needs review", color="orange", icon=":material/rate_review:")
    elif read.get("auto_approved") and read["revision"] == 1:
        st.badge("approved at once", color="green", icon=":material/verified:")
    else:
        st.badge(status, color="blue", icon=":material/task_alt:")
    facts = [f"Read {when(read['created_at'])}"]
    if read.get("station"):
        facts.append(f"at {read['station']}")
    if read.get("vendor"):
        facts.append(f"vendor {read['vendor']['name']}")
    facts.append(f"{read['tokens_count']} words read")
    if read.get("rotation"):
        facts.append(f"turned {read['rotation']}°")
    st.caption(" · ".join(facts))
    if read.get("context"):
        st.caption(f"Context: {read['context']}")
    if read.get("reviewed_by"):
        st.caption(
            f"Reviewed by {read['reviewed_by']} {when(read['reviewed_at'])} (revision {read['revision']})"
        )
    if read.get("notes"):
        st.caption(f"Notes: {read['notes']}")
    if status == "needs_review" and read["review_reasons"]:
        st.warning(f"Waits for review: {label_tables.reasons_text(read['review_reasons'])}.")


def review_form(read: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    """Approve or correct `read`; the gateway's answer when it took the review, else None (its refusal is
    on the page, and every field keeps what the reviewer typed)."""
    rid, rev = str(read["id"]), read["revision"]
    at = f"{prefix}-{rid}-{rev}"  # a new revision starts from its own codes
    original = [{"type": c["type"], "value": c["value"]} for c in read["codes"]]
    types = list(label_tables.CODE_TYPES)
    with st.form(f"review-{at}"):
        st.markdown(
            "**Codes** (number as on the photo; empty a value to leave the code out, the last row adds one)"
        )
        rows: list[dict[str, Any]] = []
        for n, code in enumerate([*original, {"type": "serial", "value": ""}], start=1):
            kind_col, value_col = st.columns([2, 3], gap="small")
            # The column heads once (and over the added row); every field keeps its label for screen readers.
            shown = "visible" if n == 1 or n > len(original) else "collapsed"
            kind = kind_col.selectbox(
                f"Type {n}" if n <= len(original) else "Added code's type",
                types,
                index=types.index(code["type"]),
                key=f"type-{at}-{n}",
                label_visibility=shown,
            )
            value = value_col.text_input(
                f"Value {n}" if n <= len(original) else "Add a code",
                value=code["value"],
                max_chars=100,
                key=f"value-{at}-{n}",
                label_visibility=shown,
                placeholder="value of a code the read missed" if n > len(original) else None,
            )
            rows.append({"type": kind, "value": value})
        notes = st.text_input("Notes (optional)", max_chars=4000, key=f"notes-{at}")
        save_col, approve_col = st.columns(2)
        # The first submit button is the one Enter presses.
        save = save_col.form_submit_button(
            "Save codes", type="primary", icon=":material/save:", shortcut="Alt+S", width="stretch"
        )
        approve = approve_col.form_submit_button(
            "Approve",
            icon=":material/check:",
            help="The codes are right as read (a read that waits for review)",
            shortcut="Alt+A",
            disabled=read["status"] != "needs_review",
            width="stretch",
        )
    if not (save or approve):
        return None
    codes, problems = label_tables.confirmed_codes(rows)
    if save and problems:
        st.error("Not saved: " + "; ".join(problems) + ".", icon=":material/error:")
        return None
    if approve or (codes == original and read["status"] == "needs_review"):
        return ask(
            lambda: gateway.approve_label(rid, notes),
            action="approve the label read",
            needs="operator",
            stop=False,
        )
    return ask(
        lambda: gateway.correct_label(rid, codes, notes),
        action="save the corrected codes",
        needs="operator",
        stop=False,
    )


def reviewed_text(answer: dict[str, Any]) -> str:
    verb = "approved" if answer["status"] == "approved" else "corrected"
    return f"Label read {answer['id']} {verb}: {label_tables.codes_summary(answer['codes'])}."


def show_read(read: dict[str, Any], prefix: str) -> dict[str, Any] | None:
    """The read (photo, facts, codes) and, for operators and up, its review; the review's answer."""
    left, right = st.columns([3, 2])
    with left:
        show_photo(read)
    answer = None
    with right:
        show_facts(read)
        if signin.allows("operator"):
            answer = review_form(read, prefix)
        else:
            st.caption(
                "Approving and correcting codes needs the operator role; "
                f"you are signed in as {signin.role() or 'no role'}."
            )
    if read["codes"]:
        st.dataframe(label_tables.codes_table(read["codes"]), hide_index=True)
    else:
        st.info("No code was read on this label.")
    return answer


def read_view() -> None:
    if not role_gap("operator", to="read labels"):
        return
    stations = ask(lambda: gateway.stations(active=True), action="list the stations", stop=False) or []
    first, second, third = st.columns(3)
    station = first.selectbox(
        "Station",
        [None, *(s["name"] for s in stations)],
        key="labels_station",
        format_func=lambda s: s or "none",
    )
    hint = second.selectbox(
        "Vendor",
        [None, *label_tables.VENDORS],
        key="labels_vendor_hint",
        format_func=lambda v: v or "recognise from the label",
    )
    context = third.text_input(
        "Context (optional)", max_chars=2000, key="labels_context", placeholder="order, pallet, shift"
    )
    source = st.radio("Photo from", ["Camera", "File"], horizontal=True, key="labels_source")
    st.caption("Keys: **Alt+L** reads the label once the photo is there.")
    if source == "Camera":
        photo = st.camera_input("Take a photo of the label", key="labels_camera")
    else:
        photo = st.file_uploader("Upload a label photo", type=PHOTO_TYPES, key="labels_file")
    clicked = st.button(
        "Read label",
        type="primary",
        icon=":material/barcode_reader:",
        disabled=photo is None,
        shortcut="Alt+L",
    )
    if clicked and photo is not None:
        data, filename, kind = photo.getvalue(), photo.name, photo.type or "application/octet-stream"
        answer = ask(
            lambda: gateway.read_label(
                data, filename, kind, station=station, context=context, vendor_hint=hint
            ),
            action="read the label",
            needs="operator",
            stop=False,
        )
        if answer is not None:
            st.session_state[LAST_READ] = answer
    read = st.session_state.get(LAST_READ)
    if read is None:
        return
    st.divider()
    reviewed = show_read(read, "read")
    if reviewed is not None:
        st.session_state[LAST_READ] = reviewed
        st.session_state[FLASH] = reviewed_text(reviewed)
        st.rerun()


def queue_view() -> None:
    stations = ask(lambda: gateway.stations(), action="list the stations", stop=False) or []
    with st.container(border=True):
        first, second, third, fourth = st.columns(4)
        status = first.selectbox(
            "Status",
            [*label_tables.STATUSES, ANY],
            key="labels_status",
            format_func=lambda s: label_tables.STATUS_WORDS.get(s, s),
        )
        vendor = second.selectbox("Vendor", [ANY, *label_tables.VENDORS], key="labels_vendor")
        station = third.selectbox(
            "Station", [ANY, *(s["name"] for s in stations)], key="labels_queue_station"
        )
        sort = fourth.selectbox(
            "Order", ["oldest", "newest"], key="labels_sort", format_func=lambda s: f"{s} first"
        )
        first, second, third = st.columns(3)
        code_type = first.selectbox("Code type", [ANY, *label_tables.CODE_TYPES], key="labels_code_type")
        code_value = second.text_input("Code value contains", max_chars=100, key="labels_code_value")
        days = third.date_input(
            "Read on (UTC)",
            value=[],
            key="labels_dates",
            help="One day, or a first and a last day; empty: all",
        )
    since, until = label_tables.day_range(days)
    page = ask(
        lambda: gateway.label_reads(
            status=None if status == ANY else status,
            vendor=None if vendor == ANY else vendor,
            station=None if station == ANY else station,
            code_type=None if code_type == ANY else code_type,
            code_value=code_value.strip() or None,
            since=since,
            until=until,
            sort=sort,
            limit=QUEUE_PAGE,
        ),
        action="read the label review queue",
    )
    assert page is not None  # ask() stops the page on failure
    items: list[dict[str, Any]] = page["items"]
    total = int(page["total"])
    shown = f" (the first {len(items)} shown)" if total > len(items) else ""
    st.caption(f"{total} label read{'s' if total != 1 else ''}{shown}")
    if not items:
        st.info(
            "No label read matches these filters."
            if status != "needs_review"
            else "The review queue is empty: every read is reviewed."
        )
        return
    by_id = {str(r["id"]): r for r in items}
    ids = list(by_id)
    wanted = st.session_state.pop(NEXT, None)
    if wanted in by_id:
        st.session_state[PICK] = wanted
    if st.session_state.get(PICK) not in by_id:
        st.session_state[PICK] = ids[0]
    with st.expander(f"Queue ({len(items)})", expanded=False):
        st.dataframe(label_tables.queue_table(items), hide_index=True)
    picker, back, forward = st.columns([3, 1, 1], vertical_alignment="bottom")
    position = ids.index(st.session_state[PICK])
    if back.button(
        "Previous", icon=":material/arrow_back:", disabled=position == 0, shortcut="Alt+P", width="stretch"
    ):
        st.session_state[NEXT] = ids[position - 1]
        st.rerun()
    if forward.button(
        "Next",
        icon=":material/arrow_forward:",
        disabled=position == len(ids) - 1,
        shortcut="Alt+N",
        width="stretch",
    ):
        st.session_state[NEXT] = ids[position + 1]
        st.rerun()
    picked = picker.selectbox(
        f"Open read ({position + 1} of {len(ids)})",
        ids,
        key=PICK,
        format_func=lambda i: label_tables.pick_label(by_id[i]),
    )
    if signin.allows("operator"):
        st.caption(SHORTCUTS)
    reviewed = show_read(by_id[picked], "queue")
    if reviewed is not None:
        st.session_state[FLASH] = reviewed_text(reviewed)
        later = ids[ids.index(picked) + 1 :]
        st.session_state[NEXT] = later[0] if later else picked
        st.rerun()


def export_view() -> None:
    st.caption(
        "Approved and corrected reads as JSON Lines, in the order they were reviewed: the token classifier's "
        "training data (docs/labels.md). A read corrected again comes again: keep its last line."
    )
    stations = ask(lambda: gateway.stations(), action="list the stations", stop=False) or []
    first, second, third = st.columns(3)
    days = first.date_input(
        "Reviewed on (UTC)",
        value=[],
        key="labels_export_dates",
        help="One day, or a first and a last day; empty: all",
    )
    vendor = second.selectbox("Vendor", [ANY, *label_tables.VENDORS], key="labels_export_vendor")
    station = third.selectbox("Station", [ANY, *(s["name"] for s in stations)], key="labels_export_station")
    since, until = label_tables.day_range(days)
    filters = (since, until, vendor, station)
    if st.button("Prepare export", icon=":material/database:"):
        data = ask(
            lambda: gateway.label_export(
                since=since,
                until=until,
                vendor=None if vendor == ANY else vendor,
                station=None if station == ANY else station,
            ),
            action="export the reviewed label reads",
            needs="engineer",
            stop=False,
        )
        if data is not None:
            st.session_state[EXPORTED] = (filters, data)
    exported = st.session_state.get(EXPORTED)
    if exported is None or exported[0] != filters:
        return
    data = exported[1]
    count = label_tables.export_lines(data)
    if not count:
        st.info("No read was reviewed with these filters yet: nothing to download.")
        return
    st.caption(f"{count} reviewed read{'s' if count != 1 else ''} in the export ({len(data):,} bytes).")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    st.download_button(
        "Download JSON Lines",
        data,
        file_name=f"label-reads-{stamp}.jsonl",
        mime="application/x-ndjson",
        icon=":material/download:",
        type="primary",
    )


st.title("Labels")
if FLASH in st.session_state:
    st.success(st.session_state.pop(FLASH), icon=":material/task_alt:")
views = [QUEUE, READ, *([EXPORT] if signin.allows("engineer") else [])]
view = st.radio("View", views, horizontal=True, key="labels_view", label_visibility="collapsed")
if view == READ:
    read_view()
elif view == EXPORT:
    export_view()
else:
    queue_view()
