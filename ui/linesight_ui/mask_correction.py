"""Correcting outlines (Streamlit), shared by Inspect, History and the Datasets page: the instances so far
drawn on the photo and listed with a "keep" box (untick a false one), new outlines drawn with the same
canvas as the box correction in its polygon mode, and a segment station's correction sent as feedback
with the full corrected list."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st
from streamlit_drawable_canvas import st_canvas

from linesight_ui import masks
from linesight_ui.box_correction import canvas_photo, correction_of, send
from linesight_ui.boxes import Scale, canvas_scale
from linesight_ui.gateway import GatewayClient
from linesight_ui.masks import Instance

Json = dict[str, Any]


def _where(polygon: tuple[masks.Point, ...]) -> str:
    return hashlib.sha256(repr(polygon).encode()).hexdigest()[:12]


def edit_instances(
    *, photo: bytes, scale: Scale, classes: list[str], start: list[Instance], key: str, ident: str, intro: str
) -> list[Instance]:
    """The outline editor: `photo` (shrunk to `scale`) with the `start` instances drawn and numbered, a
    table to keep or drop each (or change its class), a canvas to draw new outlines on (click the points,
    then the first point again to close one) and their classes; the instances as they stand, in photo
    pixels, not checked yet (masks.check_instances)."""
    size = (scale.image_width, scale.image_height)
    generation_key = f"{key}-generation-{ident}"
    generation = int(st.session_state.get(generation_key, 0))
    st.markdown(
        f"{intro} Untick **keep** for an outline that is wrong. To add one, pick its class and click its "
        "points on the photo; click the first point again to close it."
    )
    kept: list[Instance] = []
    if start:
        rows = [
            {
                "#": n,
                "keep": True,
                "class": i.label,
                "confidence": i.confidence,
                "area (px)": round(masks.polygon_area(i.polygon)),
            }
            for n, i in enumerate(start, start=1)
        ]
        table = st.data_editor(
            pd.DataFrame(rows),
            hide_index=True,
            disabled=["#", "confidence", "area (px)"],
            key=f"{key}-instances-{ident}",
            column_config={
                "keep": st.column_config.CheckboxColumn("keep"),
                "class": st.column_config.SelectboxColumn(
                    "class", options=list(dict.fromkeys([*classes, *(i.label for i in start)])), required=True
                ),
                "confidence": st.column_config.NumberColumn("confidence", format="%.2f"),
            },
        )
        for inst, row in zip(start, table.to_dict("records"), strict=False):
            if row.get("keep"):
                kept.append(Instance(str(row.get("class") or inst.label), inst.polygon, inst.confidence))
    background = masks.draw_masks(photo, start, classes, source_size=size, numbered=True)
    new_class = st.selectbox("Class of the outlines you draw", classes, key=f"{key}-draw-class-{ident}")
    drawing = st_canvas(
        background_image=background,
        width=scale.canvas_width,
        height=scale.canvas_height,
        drawing_mode="polygon",
        stroke_color="#1e90ff",
        stroke_width=2,
        fill_color="rgba(30, 144, 255, 0.25)",
        key=f"{key}-canvas-{ident}-{generation}",
    )
    drawn = [p for p in masks.canvas_polygons(drawing.json_data, scale) if p]
    # Each drawn outline keeps the class it had when it first appeared: {its place: class}.
    picked: dict[str, str] = st.session_state.setdefault(f"{key}-picked-{ident}", {})
    added: list[Instance] = []
    for polygon in drawn:
        added.append(Instance(picked.setdefault(_where(polygon), new_class), polygon))
    if added:
        table = st.data_editor(
            pd.DataFrame(
                [{"class": i.label, "points": len(i.polygon)} for i in added], columns=["class", "points"]
            ),
            hide_index=True,
            disabled=["points"],
            key=f"{key}-added-{ident}-{generation}-{len(added)}",
            column_config={
                "class": st.column_config.SelectboxColumn("class", options=classes, required=True)
            },
        )
        for n, row in enumerate(table.to_dict("records")):
            if row.get("class") and row["class"] != added[n].label:
                picked[_where(added[n].polygon)] = str(row["class"])
                added[n] = Instance(str(row["class"]), added[n].polygon)
    result = kept + added
    st.image(
        masks.draw_masks(photo, result, classes, source_size=size),
        caption=f"What is sent: {len(result)} outline{'s' if len(result) != 1 else ''}",
        width=min(480, scale.canvas_width),
    )
    if added and st.button("Remove the outlines drawn", icon=":material/undo:", key=f"{key}-restart-{ident}"):
        picked.clear()
        st.session_state[generation_key] = generation + 1
        st.rerun()
    return result


def add_photo_instances(
    raw: bytes, digest: str, classes: list[str], key: str
) -> tuple[list[Instance], Scale]:
    """The outlines drawn on a new dataset photo (Datasets page, segment), in its pixels."""
    width, height = masks.photo_size(raw)
    scale = canvas_scale(width, height)
    photos: dict[str, bytes] = st.session_state.setdefault(f"{key}-photo", {})
    if digest not in photos:
        photos.clear()  # one photo at a time is enough
        photos[digest] = canvas_photo(raw, scale)
    found = edit_instances(
        photo=photos[digest],
        scale=scale,
        classes=classes,
        start=[],
        key=key,
        ident=digest,
        intro="**Outline each defect.** Every instance of a class of this dataset gets an outline.",
    )
    return found, scale


def segment_correction(
    gateway: GatewayClient,
    inspection: Json,
    station: Json,
    *,
    key: str,
    given: Json | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    """A segment station's correction: the model's outlines (or the last correction's) to keep or drop,
    new ones drawn, the right verdict; sent as feedback with the full list of instances."""
    iid = inspection["id"]
    ready = correction_of(gateway, inspection, "outlines")
    if ready is None:
        return
    classes, width, height, scale, photo = ready.classes, ready.width, ready.height, ready.scale, ready.photo
    earlier = masks.instances_from_feedback(given)
    whose = (
        f"The outlines of the last correction (revision {given['revision']})"
        if earlier is not None and given is not None
        else "The model's outlines"
    )
    found = edit_instances(
        photo=photo,
        scale=scale,
        classes=classes,
        start=earlier
        if earlier is not None
        else masks.inspection_instances(inspection, masks.low_confidence(station)),
        key=key,
        ident=iid,
        intro=f"**Fix the outlines.** {whose} are drawn on the photo.",
    )
    verdicts = ["NOK", "OK"] if inspection.get("verdict") == "OK" else ["OK", "NOK"]
    right = st.radio("The right verdict", verdicts, horizontal=True, key=f"{key}-verdict-{iid}")
    use = st.checkbox(
        "Use for training",
        value=True,
        key=f"{key}-train-{iid}",
        help="The photo joins the station's training dataset with these outlines as its labels.",
    )
    notes = st.text_input("Notes (optional)", max_chars=4000, key=f"{key}-notes-{iid}")
    if st.button("Send correction", type="primary", icon=":material/send:", key=f"{key}-send-{iid}"):
        good, problems = masks.check_instances(found, width, height, classes)
        if problems:
            st.error("Not sent: fix these outlines first.\n\n" + "\n".join(f"- {p}" for p in problems))
            return
        body = {
            "correct": False,
            "corrected_verdict": right,
            "instances": [i.body() for i in good],
            "use_for_training": use,
            "notes": notes,
        }
        send(gateway, iid, body, after=after)
