"""A segment station's settings as form fields (Streamlit): a defect rule per class of the model (limits
on count, largest area, total area share and longest length, in px or mm), the mm-per-pixel calibration
and the region of interest, gathered into the gateway's body."""

from __future__ import annotations

from typing import Any

import streamlit as st

from linesight_ui import defect_rules


def segment_fields(prefix: str, station: dict[str, Any] | None, classes: list[str] | None) -> dict[str, Any]:
    """The defect rules (one row per class of the model; a class with no limit is no defect), mm per
    pixel and the region of interest; an unreadable region is said and the station's one kept."""
    now = station or {}
    st.markdown("**Defect rules**")
    st.caption(
        "Tick each class that is a defect and set its limits: the photo is NOK when one is broken. A defect "
        "with no limit allows none of it. Areas are in px² or mm², the total area in % of the region (or "
        "the photo), lengths in px or mm."
        + (" The alias points at no version yet: add a row per class." if classes is None else "")
    )
    rows = defect_rules.rules_rows(now.get("defect_rules"), classes or [])
    table = st.data_editor(
        rows,
        hide_index=True,
        width="stretch",
        num_rows="dynamic" if classes is None else "fixed",
        disabled=[] if classes is None else ["class"],
        key=f"{prefix}-rules",
        column_config={
            "class": st.column_config.TextColumn("class", required=True),
            "defect": st.column_config.CheckboxColumn("defect"),
            **{
                k: st.column_config.NumberColumn(label, min_value=0.0, format="%g")
                for k, label in defect_rules.LIMITS.items()
            },
            "unit": st.column_config.SelectboxColumn("unit", options=list(defect_rules.UNITS), required=True),
        },
    )
    left, right = st.columns([1, 3])
    mm = left.number_input(
        "mm per pixel",
        min_value=0.0,
        max_value=1000.0,
        value=float(now.get("mm_per_pixel") or 0.0),
        step=0.01,
        format="%.4f",
        key=f"{prefix}-mm",
        help="The camera's calibration: how many millimetres one pixel spans. 0: not calibrated (limits in px).",
    )
    typed = right.text_input(
        "Region of interest (optional)",
        value=defect_rules.roi_text(now.get("roi")),
        key=f"{prefix}-roi",
        placeholder="0.1,0.1; 0.9,0.1; 0.9,0.9; 0.1,0.9",
        help="The polygon inside which defects count, as x,y points from 0 to 1 (of the photo's width and "
        "height) separated by ';'. Empty: the whole photo.",
    )
    roi, problems = defect_rules.parse_roi(typed)
    if problems:
        st.error(
            "The region of interest is kept as it was until this is fixed:\n\n"
            + "\n".join(f"- {p}" for p in problems),
            icon=":material/error:",
        )
        roi = now.get("roi")
    rules = defect_rules.rules_body(table.to_dict("records"))
    for problem in defect_rules.rules_problems(rules, mm or None):
        st.warning(problem, icon=":material/warning:")
    if not rules:
        st.caption("No class is ticked as a defect yet: a segment station needs at least one.")
    return {
        "expected_items": [],
        "ok_classes": [],
        "defect_rules": rules,
        "mm_per_pixel": round(float(mm), 6) or None,
        "roi": roi,
    }
