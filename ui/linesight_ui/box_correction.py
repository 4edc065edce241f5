"""Correcting a wrong answer, shared by Inspect and History: at a detect station the operator fixes the
model's boxes on the photo (streamlit-drawable-canvas) or in a table, at a classify station picks the
right class; either way the correction goes to the gateway as feedback, “Use for training” included."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st
from PIL import Image, ImageOps
from streamlit_drawable_canvas import boxes_to_drawing, st_canvas

from linesight_ui.boxes import (
    Box,
    Scale,
    canvas_scale,
    check,
    counts,
    from_canvas,
    from_row,
    model_boxes,
    smallest_box,
    to_canvas,
    to_row,
    verdict,
)
from linesight_ui.gateway import GatewayClient
from linesight_ui.problems import ask

FEEDBACK = "feedback_answers"  # {inspection id: the feedback answer the gateway gave}
_CLASSES = "model_classes"  # {(model, version): class names}
_PHOTOS = "correction_photos"  # {inspection id: the photo shrunk to the canvas}
COLUMNS = ["class", "x", "y", "w", "h"]
LABEL_FONT_SIZE = 13  # the class chip on each box, in canvas pixels
Json = dict[str, Any]


def send(
    gateway: GatewayClient, inspection_id: str, body: Json, *, after: Callable[[], None] | None = None
) -> None:
    """Save the feedback and show the page again with it; a refusal stays on screen with the input."""
    answer = ask(
        lambda: gateway.give_feedback(inspection_id, body),
        action="save the feedback",
        needs="operator",
        stop=False,
    )
    if answer is not None:
        st.session_state.setdefault(FEEDBACK, {})[inspection_id] = answer
        if after is not None:
            after()
        st.rerun()


def model_classes(gateway: GatewayClient, inspection: Json) -> list[str] | None:
    """The classes of the model version that answered (asked once per browser session)."""
    model = inspection["model"]
    known: dict[tuple[str, int], list[str]] = st.session_state.setdefault(_CLASSES, {})
    at = (model["name"], int(model["version"]))
    if at not in known:
        version = ask(
            lambda: gateway.model_version(model["name"], model["version"]),
            action="read the model's classes",
            stop=False,
        )
        if version is None:
            return None
        known[at] = [version.class_names[k] for k in sorted(version.class_names, key=int)]
    return known[at]


@dataclass(frozen=True)
class Correction:
    """What an editor needs of the inspection it corrects: the model's classes, the photo's size, the
    canvas scale and the photo shrunk to it."""

    classes: list[str]
    width: int
    height: int
    scale: Scale
    photo: bytes


def correction_of(gateway: GatewayClient, inspection: Json, what: str) -> Correction | None:
    """None, with the reason shown, when the classes, the photo's size or the photo cannot be had.
    `what`: what is corrected ("boxes", "outlines"), for the message."""
    classes = model_classes(gateway, inspection)
    if classes is None:
        return None
    image = inspection.get("image") or {}
    width, height = int(image.get("width") or 0), int(image.get("height") or 0)
    if width <= 0 or height <= 0:
        st.error(f"Could not correct the {what}: the gateway did not say how large the photo is.")
        return None
    scale = canvas_scale(width, height)
    photo = correction_photo(gateway, inspection["id"], scale)
    if photo is None:
        return None
    return Correction(classes, width, height, scale, photo)


def correction_photo(gateway: GatewayClient, inspection_id: str, scale: Scale) -> bytes | None:
    """The photo as stored (no boxes drawn), shrunk to the canvas: what the operator draws on."""
    kept: dict[str, bytes] = st.session_state.setdefault(_PHOTOS, {})
    if inspection_id not in kept:
        raw = ask(
            lambda: gateway.inspection_image(inspection_id, annotated=False),
            action="load the photo",
            stop=False,
        )
        if raw is None:
            return None
        kept.clear()  # one photo at a time is enough
        kept[inspection_id] = canvas_photo(raw, scale)
    return kept[inspection_id]


def canvas_photo(raw: bytes, scale: Scale) -> bytes:
    """A photo (EXIF orientation applied) shrunk to the canvas, as the JPEG the canvas draws on."""
    with Image.open(io.BytesIO(raw)) as opened:
        img = ImageOps.exif_transpose(opened).convert("RGB")
    img = img.resize((scale.canvas_width, scale.canvas_height))
    out = io.BytesIO()
    img.save(out, format="JPEG", quality=88)
    return out.getvalue()


def _drawing(boxes: list[Box], scale: Scale) -> Json:
    """The canvas's starting drawing: the given boxes in orange, labelled as small as the drawn ones."""
    drawing = boxes_to_drawing(
        [to_canvas(b, scale) for b in boxes],
        stroke_color="#ff8c00",
        stroke_width=2,
        fill_color="rgba(255, 140, 0, 0.08)",
    )
    for shape in drawing["objects"]:
        shape["fontSize"] = LABEL_FONT_SIZE
    return drawing


def _where(box: Box) -> str:
    return f"{box.x1:.0f},{box.y1:.0f},{box.x2:.0f},{box.y2:.0f}"


def _picked_class(picked: dict[str, tuple[str, str]], box: Box) -> str:
    """The class picked for `box` in the table, unless the box was relabelled on the photo since."""
    was, chosen = picked.get(_where(box), (box.label, box.label))
    return chosen if was == box.label else box.label


def edit_boxes(
    *,
    photo: bytes,
    scale: Scale,
    classes: list[str],
    start: Callable[[], list[Box]],
    key: str,
    ident: str,
    intro: str,
    restart: str,
    reset: Callable[[], list[Box]] | None = None,
) -> list[Box]:
    """The box editor: `photo` (shrunk to `scale`) on a drawing canvas with the boxes so far, drawn from
    `start()` at first; a class picker for the boxes drawn; the table of every box (class, place) under it;
    "Show the table on the photo" and the `restart` button (back to `reset()`, by default `start()`). The
    boxes as they stand,
    in photo pixels and not checked yet (boxes.check). `key` and `ident` keep each editor's widgets apart."""
    width, height = scale.image_width, scale.image_height
    generation_key = f"{key}-generation-{ident}"
    generation = int(st.session_state.get(generation_key, 0))
    base_key = f"{key}-base-{ident}"
    base: list[Box] = st.session_state[base_key] if base_key in st.session_state else start()

    st.markdown(
        f"{intro} Drag on the photo to draw a box that is missing, with the class picked here. To delete or "
        "move a box, or give it another class, turn on the pencil (edit) in the photo's toolbar and click "
        "the box; or change its class, its place or remove it in the table below."
    )
    new_class = st.selectbox("Class of the boxes you draw", classes, key=f"{key}-draw-class-{ident}")
    drawing = st_canvas(
        background_image=photo,
        width=scale.canvas_width,
        height=scale.canvas_height,
        drawing_mode="labeled_rect",
        label=new_class,
        initial_drawing=_drawing(base, scale),
        stroke_color="#1e90ff",
        stroke_width=2,
        fill_color="rgba(30, 144, 255, 0.10)",
        font_size=LABEL_FONT_SIZE,
        key=f"{key}-canvas-{ident}-{generation}",
    )
    drawn = [from_canvas(b, scale) for b in drawing.boxes]

    # The table follows the drawing. A class picked in the table stays with its box while the rest of the
    # drawing changes, until the box is relabelled on the photo: {box's place: (its label then, class)}.
    picked: dict[str, tuple[str, str]] = st.session_state.setdefault(f"{key}-picked-{ident}", {})
    rows = [to_row(b) | {"class": _picked_class(picked, b)} for b in drawn]
    digest = hashlib.sha256(json.dumps([_where(b) for b in drawn]).encode()).hexdigest()[:12]
    table = st.data_editor(
        # Typed, so an empty table (no box yet) still takes numbers in its position columns.
        pd.DataFrame(rows, columns=COLUMNS).astype({c: "float64" for c in COLUMNS[1:]}),
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        key=f"{key}-table-{ident}-{generation}-{digest}",
        column_config={
            "class": st.column_config.SelectboxColumn("class", options=classes, required=True),
            "x": st.column_config.NumberColumn("x (px)", format="%.1f"),
            "y": st.column_config.NumberColumn("y (px)", format="%.1f"),
            "w": st.column_config.NumberColumn("width (px)", format="%.1f"),
            "h": st.column_config.NumberColumn("height (px)", format="%.1f"),
        },
    )
    for index, row in table.iterrows():
        if isinstance(index, int) and index < len(drawn) and row["class"]:
            box = drawn[index]
            if row["class"] != box.label:
                picked[_where(box)] = (box.label, str(row["class"]))
            else:
                picked.pop(_where(box), None)
    st.caption(
        f"Every box to send, in photo pixels ({width}x{height}). Rows added or removed here, or moved, go "
        "onto the photo with “Show the table on the photo”; drawing again before that starts the table "
        "anew from the photo (the classes picked here are kept)."
    )
    boxes = [from_row(r) for r in table.to_dict("records")]
    redraw, again = st.columns(2)
    if redraw.button("Show the table on the photo", icon=":material/sync:", key=f"{key}-redraw-{ident}"):
        kept, problems = check(boxes, width, height, classes, min_size=smallest_box(scale))
        if problems:
            st.error("Not shown on the photo:\n\n" + "\n".join(f"- {p}" for p in problems))
        else:
            st.session_state[base_key] = kept
            st.session_state[generation_key] = generation + 1
            st.rerun()
    if again.button(restart, icon=":material/undo:", key=f"{key}-restart-{ident}"):
        st.session_state[base_key] = (reset or start)()
        picked.clear()
        st.session_state[generation_key] = generation + 1
        st.rerun()
    return boxes


def detect_correction(
    gateway: GatewayClient,
    inspection: Json,
    station: Json,
    *,
    key: str,
    given: Json | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    """The box editor of a detect station, pre-filled with the model's boxes (or the last correction's):
    draw, delete, relabel; send."""
    iid = inspection["id"]
    ready = correction_of(gateway, inspection, "boxes")
    if ready is None:
        return
    classes, width, height, scale, photo = ready.classes, ready.width, ready.height, ready.scale, ready.photo
    low = float((station.get("thresholds") or {}).get("low_confidence", 0.0))
    earlier = (given or {}).get("corrected_boxes")

    def start() -> list[Box]:
        if earlier is not None:
            return [Box(b["label"], b["x1"], b["y1"], b["x2"], b["y2"]) for b in earlier]
        return model_boxes(inspection["predictions"], low)

    whose = (
        f"The boxes of the last correction (revision {given['revision']})"
        if earlier is not None and given is not None
        else "The model's boxes"
    )
    boxes = edit_boxes(
        photo=photo,
        scale=scale,
        classes=classes,
        start=start,
        key=key,
        ident=iid,
        intro=f"**Fix the boxes.** {whose} are drawn on the photo.",
        restart="Start again from the model's boxes",
        reset=lambda: model_boxes(inspection["predictions"], low),
    )

    use = st.checkbox(
        "Use for training",
        value=True,
        key=f"{key}-train-{iid}",
        help="The photo joins the station's training dataset with these boxes as its labels.",
    )
    notes = st.text_input("Notes (optional)", max_chars=4000, key=f"{key}-notes-{iid}")
    if st.button("Send correction", type="primary", icon=":material/send:", key=f"{key}-send-{iid}"):
        kept, problems = check(boxes, width, height, classes, min_size=smallest_box(scale))
        if problems:
            st.error("Not sent: fix these boxes first.\n\n" + "\n".join(f"- {p}" for p in problems))
            return
        found = counts(kept)
        expected = {e["label"]: int(e["min_count"]) for e in station.get("expected_items") or []}
        corrected_counts = {label: found.get(label, 0) for label in expected if label in classes} | found
        body = {
            "correct": False,
            "corrected_verdict": verdict(found, expected),
            "corrected_boxes": [b.body() for b in kept],
            "corrected_counts": corrected_counts,
            "use_for_training": use,
            "notes": notes,
        }
        send(gateway, iid, body, after=after)


def classify_correction(
    gateway: GatewayClient,
    inspection: Json,
    station: Json,
    *,
    key: str,
    given: Json | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    """The class picker of a classify station (on the class given before, if any)."""
    iid = inspection["id"]
    classes = model_classes(gateway, inspection)
    if classes is None:
        return
    with st.form(f"{key}-wrong-{iid}"):
        options = sorted(classes)
        before = (given or {}).get("corrected_class")
        right = st.selectbox(
            "The right class",
            options,
            index=options.index(before) if before in options else 0,
            key=f"{key}-class-{iid}",
        )
        use = st.checkbox("Use this photo for training", key=f"{key}-class-train-{iid}")
        notes = st.text_input("Notes (optional)", max_chars=4000)
        sent = st.form_submit_button("Send correction", type="primary")
    if sent:
        body = {
            "correct": False,
            "corrected_verdict": "OK" if right in station["ok_classes"] else "NOK",
            "corrected_class": right,
            "use_for_training": use,
            "notes": notes,
        }
        send(gateway, iid, body, after=after)


def correction(
    gateway: GatewayClient,
    inspection: Json,
    station: Json,
    *,
    key: str,
    given: Json | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    """The right editor for the station's mode; `given`: the feedback so far, to start from."""
    editor = detect_correction if station["mode"] == "detect" else classify_correction
    editor(gateway, inspection, station, key=key, given=given, after=after)
