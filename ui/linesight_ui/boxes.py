"""Boxes of a detection correction, with no Streamlit here: the model's boxes to pre-fill, the conversion
between the drawing canvas (the photo shown at a display scale) and the photo's own pixels, the checks a
box must pass before it is sent, and the counts and verdict that follow from the boxes."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# The canvas is never wider than this on screen; a smaller photo is shown at its own size.
MAX_CANVAS_WIDTH = 800
# A box is refused when narrower or lower than this, in photo pixels...
MIN_SIZE = 2.0
# ... or than this on the screen: a click without a drag leaves a box of about 2x2 canvas pixels.
MIN_DRAWN_SIZE = 5.0
# How far past the photo's edge a corner may lie (in photo pixels) and still be taken, cut at the edge:
# what the display scale's rounding can add, not a box drawn beyond the photo.
EDGE_TOLERANCE = 1.0


@dataclass(frozen=True)
class Box:
    """One object, in the photo's own pixels (x1, y1 top left; x2, y2 bottom right)."""

    label: str
    x1: float
    y1: float
    x2: float
    y2: float

    def body(self) -> dict[str, Any]:
        """As the gateway's `corrected_boxes` take it."""
        return {"label": self.label, "x1": self.x1, "y1": self.y1, "x2": self.x2, "y2": self.y2}


@dataclass(frozen=True)
class Scale:
    """How the photo is shown on the canvas: `factor` canvas pixels per photo pixel, same on both axes."""

    image_width: int
    image_height: int
    canvas_width: int
    canvas_height: int
    factor: float


def canvas_scale(image_width: int, image_height: int, max_width: int = MAX_CANVAS_WIDTH) -> Scale:
    """The canvas size for a photo: its own size, or shrunk to `max_width` keeping its proportions."""
    if image_width <= 0 or image_height <= 0:
        raise ValueError(f"a photo of {image_width}x{image_height} pixels cannot be shown")
    factor = min(1.0, max_width / image_width)
    width = max(1, round(image_width * factor))
    height = max(1, round(image_height * factor))
    return Scale(image_width, image_height, width, height, factor)


def to_canvas(box: Box, scale: Scale) -> dict[str, Any]:
    """A box as the canvas draws it: {label, left, top, width, height} in canvas pixels."""
    f = scale.factor
    return {
        "label": box.label,
        "left": box.x1 * f,
        "top": box.y1 * f,
        "width": (box.x2 - box.x1) * f,
        "height": (box.y2 - box.y1) * f,
    }


def _number(value: Any) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number


def from_canvas(drawn: Mapping[str, Any], scale: Scale) -> Box:
    """A box the canvas gives back, in photo pixels (rounded to 0.1 px; not checked yet)."""
    f = scale.factor
    left, top = _number(drawn.get("left")) / f, _number(drawn.get("top")) / f
    width, height = _number(drawn.get("width")) / f, _number(drawn.get("height")) / f
    # A box dragged from right to left may come back with a negative size: the same box.
    x1, x2 = sorted((left, left + width))
    y1, y2 = sorted((top, top + height))
    return Box(str(drawn.get("label") or "").strip(), *(round(v, 1) for v in (x1, y1, x2, y2)))


def from_row(row: Mapping[str, Any]) -> Box:
    """A row of the box table ({class, x, y, w, h} in photo pixels)."""
    x, y = _number(row.get("x")), _number(row.get("y"))
    w, h = _number(row.get("w")), _number(row.get("h"))
    return Box(str(row.get("class") or "").strip(), x, y, x + w, y + h)


def to_row(box: Box) -> dict[str, Any]:
    return {
        "class": box.label,
        "x": round(box.x1, 1),
        "y": round(box.y1, 1),
        "w": round(box.x2 - box.x1, 1),
        "h": round(box.y2 - box.y1, 1),
    }


def _describe(n: int, box: Box) -> str:
    return f"Box {n} ({box.label or 'no class'})"


def smallest_box(scale: Scale) -> float:
    """The least width and height of a box, in photo pixels, for a photo shown at `scale`."""
    return max(MIN_SIZE, MIN_DRAWN_SIZE / scale.factor)


def check(
    boxes: Iterable[Box],
    image_width: int,
    image_height: int,
    classes: Iterable[str],
    *,
    min_size: float = MIN_SIZE,
) -> tuple[list[Box], list[str]]:
    """The boxes to send (cut at the photo's edge within EDGE_TOLERANCE) and, for each one refused, why;
    a correction is sent only when nothing is refused. `min_size`: see smallest_box."""
    known = set(classes)
    kept: list[Box] = []
    problems: list[str] = []
    for n, box in enumerate(boxes, start=1):
        name = _describe(n, box)
        corners = (box.x1, box.y1, box.x2, box.y2)
        if not all(math.isfinite(v) for v in corners):
            problems.append(f"{name} has no position: give x, y, w and h as numbers.")
            continue
        if box.x2 - box.x1 < min_size or box.y2 - box.y1 < min_size:
            problems.append(
                f"{name} is {box.x2 - box.x1:.0f}x{box.y2 - box.y1:.0f} pixels: too small to be an object "
                f"(at least {min_size:.0f}x{min_size:.0f}). Drag to draw a box; remove this one (Undo, or "
                "Edit and Delete selected, or its row in the table)."
            )
            continue
        tol = EDGE_TOLERANCE
        if box.x1 < -tol or box.y1 < -tol or box.x2 > image_width + tol or box.y2 > image_height + tol:
            problems.append(
                f"{name} reaches outside the {image_width}x{image_height} photo "
                f"(x {box.x1:.0f} to {box.x2:.0f}, y {box.y1:.0f} to {box.y2:.0f}). Move it onto the photo."
            )
            continue
        if box.label not in known:
            choices = ", ".join(sorted(known)) or "none"
            problems.append(f"{name}: {box.label or 'no class'} is not a class of the model ({choices}).")
            continue
        kept.append(
            Box(
                box.label,
                max(0.0, box.x1),
                max(0.0, box.y1),
                min(float(image_width), box.x2),
                min(float(image_height), box.y2),
            )
        )
    return kept, problems


def model_boxes(predictions: Iterable[Mapping[str, Any]], threshold: float) -> list[Box]:
    """The detections that made the answer (at or above the station's low-confidence threshold), to
    start the correction from."""
    out = []
    for p in predictions:
        box = p.get("box")
        if not box or float(p.get("confidence", 0.0)) < threshold:
            continue
        out.append(Box(str(p["label"]), box["x1"], box["y1"], box["x2"], box["y2"]))
    return out


def counts(boxes: Iterable[Box]) -> dict[str, int]:
    return dict(Counter(b.label for b in boxes))


def verdict(found: Mapping[str, int], expected: Mapping[str, int]) -> str:
    """OK when every expected item is there at least as often as the station wants, as the gateway
    judges a detection."""
    return "NOK" if any(found.get(label, 0) < need for label, need in expected.items()) else "OK"
