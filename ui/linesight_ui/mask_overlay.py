"""A segment inspection on Inspect and History (Streamlit): the photo with each instance's mask drawn
semi-transparently in its class's colour and the station's region of interest outlined, the rules it
failed in words ("NOK: crack 7.2 mm > 5 mm") and the table of the defects measured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from linesight_ui import defect_rules, masks
from linesight_ui.box_correction import model_classes
from linesight_ui.gateway import GatewayClient
from linesight_ui.problems import ask

_DRAWN = "mask_overlays"  # {inspection id: the photo with its masks drawn}
Json = dict[str, Any]


def is_segment(inspection: Mapping[str, Any], station: Mapping[str, Any] | None) -> bool:
    """A segment station's inspection, or (the station unknown) one whose answer has outlines."""
    if station is not None and station.get("mode"):
        return station["mode"] == "segment"
    return bool(masks.inspection_instances(inspection))


def overlay(gateway: GatewayClient, inspection: Json, station: Mapping[str, Any] | None) -> bytes | None:
    """The stored photo with the inspection's masks and the station's region drawn (made once per
    inspection in a browser session); None when the photo cannot be loaded (the error is shown)."""
    iid = inspection["id"]
    kept: dict[str, bytes] = st.session_state.setdefault(_DRAWN, {})
    if iid in kept:
        return kept[iid]
    raw = ask(lambda: gateway.inspection_image(iid, annotated=False), action="load the photo", stop=False)
    if raw is None:
        return None
    classes = model_classes(gateway, inspection) if inspection.get("model") else None
    image = inspection.get("image") or {}
    size = (int(image.get("width") or 0), int(image.get("height") or 0))
    try:
        width, height = masks.photo_size(raw)
        roi = masks.roi_points((station or {}).get("roi"), width, height)
        drawn = masks.draw_masks(
            raw,
            masks.inspection_instances(inspection, masks.low_confidence(station)),
            classes or [],
            roi=roi,
            source_size=size if all(size) and size != (width, height) else None,
        )
    except (OSError, ValueError) as exc:  # not an image Pillow opens: shown as stored
        st.caption(f"The masks cannot be drawn on this photo ({exc}).")
        return raw
    if len(kept) >= 20:
        kept.clear()
    kept[iid] = drawn
    return drawn


def show_photo(gateway: GatewayClient, inspection: Json, station: Mapping[str, Any] | None) -> None:
    picture = overlay(gateway, inspection, station)
    if picture is not None:
        found = len(masks.inspection_instances(inspection, masks.low_confidence(station)))
        region = " · region of interest outlined in yellow" if (station or {}).get("roi") else ""
        st.image(
            picture,
            caption=f"Inspection {inspection['id']} · {found} outline{'s' if found != 1 else ''}{region}",
            width="stretch",
        )


def show_rules(inspection: Mapping[str, Any]) -> None:
    """The rules the photo failed, in words, and the defects measured (inside the region or not)."""
    failed = defect_rules.failed_rule_texts(inspection)
    for text in failed:
        st.markdown(f":red[**NOK:** {text}]")
    if inspection.get("verdict") == "OK" and not failed:
        st.caption("No defect rule failed.")
    defects = defect_rules.defects_table(inspection)
    if len(defects):
        st.dataframe(defects, hide_index=True)
    elif inspection.get("status") == "completed":
        st.caption("No defect found on the photo.")
