"""Instance masks as polygons, with no Streamlit here: a segment dataset item's labels and a segment
inspection's instances as polygons in photo pixels, and a photo with each drawn filled semi-transparently
in its class's colour, outlined and tagged, with the station's region of interest outlined."""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from linesight_core.contracts.datasets import DatasetItemOut, SegmentLabel
from linesight_ui.boxes import Scale
from linesight_ui.label_drawing import PALETTE, Color, tag_font

Point = tuple[float, float]
FILL_ALPHA = 90  # of 255: the photo stays visible under a mask
ROI_COLOR: Color = (250, 204, 21)


@dataclass(frozen=True)
class Instance:
    """One instance: its class name and outline in the photo's own pixels; the model's confidence when a
    model found it (None when a person drew it)."""

    label: str
    polygon: tuple[Point, ...]
    confidence: float | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def body(self) -> dict[str, Any]:
        """As a segment station's feedback takes it: `{label, polygon: [[x, y], ...]}`."""
        return {"label": self.label, "polygon": [[round(x, 1), round(y, 1)] for x, y in self.polygon]}


def photo_size(photo: bytes) -> tuple[int, int]:
    """Width and height as the registry stores them: after the EXIF orientation is applied."""
    with Image.open(io.BytesIO(photo)) as opened:
        return ImageOps.exif_transpose(opened).size


def low_confidence(station: Mapping[str, Any] | None) -> float:
    """The station's low-confidence threshold (0 when unknown): the least sure instance that counts."""
    try:
        return float(((station or {}).get("thresholds") or {}).get("low_confidence", 0.0))
    except (TypeError, ValueError):
        return 0.0


def class_name(class_names: Sequence[str], class_id: int) -> str:
    return class_names[class_id] if 0 <= class_id < len(class_names) else f"class {class_id}"


def color_of(label: str, class_names: Sequence[str]) -> Color:
    """A class's colour: by its place in `class_names`, or (a name not in them) by its letters."""
    if label in class_names:
        return PALETTE[list(class_names).index(label) % len(PALETTE)]
    return PALETTE[sum(label.encode()) % len(PALETTE)]


def item_instances(
    item: DatasetItemOut, class_names: Sequence[str], width: int, height: int
) -> list[Instance]:
    """A segment item's polygons (normalised) as instances on its image shown at width x height."""
    if not isinstance(item.labels, list):
        return []
    return [
        Instance(
            class_name(class_names, lab.class_id), tuple((x * width, y * height) for x, y in lab.polygon)
        )
        for lab in item.labels
        if isinstance(lab, SegmentLabel)
    ]


def _points(raw: Any) -> tuple[Point, ...]:
    """[[x, y], ...] or [{x, y}, ...] as points; anything unreadable is left out."""
    out: list[Point] = []
    for p in raw if isinstance(raw, list | tuple) else []:
        try:
            x, y = (p["x"], p["y"]) if isinstance(p, Mapping) else p
            x, y = float(x), float(y)
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(x) and math.isfinite(y):
            out.append((x, y))
    return tuple(out)


def inspection_instances(inspection: Mapping[str, Any], threshold: float = 0.0) -> list[Instance]:
    """The instances a segment inspection found (with a polygon of at least three points, at least
    `threshold` sure: the station's low-confidence threshold leaves out what made no part of the answer),
    from its `instances`, or else its `predictions` / `top_predictions` that carry a polygon."""
    for key in ("instances", "predictions", "top_predictions"):
        found = [
            Instance(str(p.get("label") or "?"), _points(p.get("polygon")), _confidence(p), p)
            for p in inspection.get(key) or []
            if isinstance(p, Mapping) and p.get("polygon")
        ]
        found = [
            i for i in found if len(i.polygon) >= 3 and (i.confidence is None or i.confidence >= threshold)
        ]
        if found:
            return found
    return []


def _confidence(p: Mapping[str, Any]) -> float | None:
    try:
        return float(p["confidence"])
    except (KeyError, TypeError, ValueError):
        return None


def instances_from_feedback(feedback: Mapping[str, Any] | None) -> list[Instance] | None:
    """The instances of a segment correction given before, None when it has none."""
    given = (feedback or {}).get("instances")
    if given is None:
        return None
    return [
        Instance(str(i.get("label") or "?"), _points(i.get("polygon")))
        for i in given
        if isinstance(i, Mapping)
    ]


def polygon_area(points: Sequence[Point]) -> float:
    """The area inside the outline (shoelace), in square pixels."""
    n = len(points)
    twice = sum(
        points[k][0] * points[(k + 1) % n][1] - points[(k + 1) % n][0] * points[k][1] for k in range(n)
    )
    return abs(twice) / 2


def roi_points(roi: Any, width: int, height: int) -> tuple[Point, ...]:
    """A station's region of interest (normalised 0..1 points) in the photo's pixels; () when it has none."""
    return tuple((x * width, y * height) for x, y in _points(roi)) if roi else ()


def _tag(
    draw: ImageDraw.ImageDraw, at: Point, text: str, color: Color, size: tuple[int, int], line: int
) -> None:
    width, height = size
    font = tag_font(max(12, round(min(width, height) / 30)))
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tag_w, tag_h = right - left + 2 * line, bottom - top + 2 * line
    tx = min(max(0, int(at[0])), max(0, width - tag_w))
    ty = int(at[1]) - tag_h if at[1] - tag_h >= 0 else min(height - tag_h, int(at[1]) + 1)
    draw.rectangle((tx, ty, tx + tag_w, ty + tag_h), fill=color)
    draw.text((tx + line - left, ty + line - top), text, fill=(255, 255, 255), font=font)


def draw_masks(
    photo: bytes,
    instances: Iterable[Instance],
    class_names: Sequence[str] = (),
    *,
    roi: Sequence[Point] = (),
    source_size: tuple[int, int] | None = None,
    numbered: bool = False,
) -> bytes:
    """The photo (EXIF orientation applied) as PNG with each instance filled semi-transparently in its
    class's colour, outlined and tagged (class and confidence), and the region of interest outlined.
    `source_size`: the size the polygons are in, when the photo is a smaller copy of the original;
    `numbered`: each tag starts with the instance's number (1, 2, ...), as a table lists them."""
    with Image.open(io.BytesIO(photo)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGBA")
    width, height = image.size
    sx, sy = (width / source_size[0], height / source_size[1]) if source_size else (1.0, 1.0)
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    fill = ImageDraw.Draw(layer)
    shown = [i for i in instances if len(i.polygon) >= 3]
    for inst in shown:
        r, g, b = color_of(inst.label, class_names)
        fill.polygon([(x * sx, y * sy) for x, y in inst.polygon], fill=(r, g, b, FILL_ALPHA))
    image = Image.alpha_composite(image, layer).convert("RGB")
    draw = ImageDraw.Draw(image)
    line = max(2, round(min(width, height) / 250))
    if len(roi) >= 3:
        ring = [(x * sx, y * sy) for x, y in roi]
        draw.line([*ring, ring[0]], fill=ROI_COLOR, width=line)
    for inst in shown:
        color = color_of(inst.label, class_names)
        ring = [(x * sx, y * sy) for x, y in inst.polygon]
        draw.line([*ring, ring[0]], fill=color, width=line, joint="curve")
    for n, inst in enumerate(shown, start=1):
        ring = [(x * sx, y * sy) for x, y in inst.polygon]
        top_left = (min(x for x, _ in ring), min(y for _, y in ring))
        text = inst.label if inst.confidence is None else f"{inst.label} {inst.confidence:.0%}"
        text = f"{n} {text}" if numbered else text
        _tag(draw, top_left, text, color_of(inst.label, class_names), (width, height), line)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def yolo_segment_lines(
    instances: Iterable[Instance], width: int, height: int, class_names: Sequence[str]
) -> str:
    """Instances in a photo's pixels (of known classes) as YOLO segmentation lines `class x1 y1 x2 y2 ...`,
    normalised to the photo (clipped to 0..1) and rounded to 6 decimals."""
    ids = {name: n for n, name in enumerate(class_names)}
    lines = []
    for inst in instances:
        coords = " ".join(
            f"{min(1.0, max(0.0, x / width)):.6f} {min(1.0, max(0.0, y / height)):.6f}"
            for x, y in inst.polygon
        )
        lines.append(f"{ids[inst.label]} {coords}")
    return "\n".join(lines)


# Where an object's `left`/`top` sit on it, per Fabric's originX / originY.
_ORIGIN = {"left": 0.0, "top": 0.0, "center": 0.5, "right": 1.0, "bottom": 1.0}


def from_canvas(shape: Mapping[str, Any], scale: Scale) -> tuple[Point, ...]:
    """A polygon the drawing canvas gives back (Fabric's `Polygon`: its `points` as drawn, and where the
    object is now, moved, scaled or turned in edit mode) in photo pixels, rounded to 0.1 px."""
    points = _points(shape.get("points"))
    if not points:
        return ()
    xs, ys = [x for x, _ in points], [y for _, y in points]
    cx0, cy0 = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    sx, sy = float(shape.get("scaleX") or 1.0), float(shape.get("scaleY") or 1.0)
    stroke = 0.0 if shape.get("strokeUniform") else float(shape.get("strokeWidth") or 0.0)
    width = float(shape.get("width") if shape.get("width") is not None else max(xs) - min(xs))
    height = float(shape.get("height") if shape.get("height") is not None else max(ys) - min(ys))
    dim_x, dim_y = (width + stroke) * sx, (height + stroke) * sy
    left = float(shape.get("left") if shape.get("left") is not None else min(xs) - stroke / 2)
    top = float(shape.get("top") if shape.get("top") is not None else min(ys) - stroke / 2)
    centre_x = left + dim_x * (0.5 - _ORIGIN.get(str(shape.get("originX", "left")), 0.0))
    centre_y = top + dim_y * (0.5 - _ORIGIN.get(str(shape.get("originY", "top")), 0.0))
    turn = math.radians(float(shape.get("angle") or 0.0))
    cos, sin = math.cos(turn), math.sin(turn)
    out = []
    for x, y in points:
        dx, dy = (x - cx0) * sx, (y - cy0) * sy
        px, py = centre_x + dx * cos - dy * sin, centre_y + dx * sin + dy * cos
        out.append((round(px / scale.factor, 1), round(py / scale.factor, 1)))
    return tuple(out)


def canvas_polygons(drawing: Mapping[str, Any] | None, scale: Scale) -> list[tuple[Point, ...]]:
    """Every polygon on the canvas (its JSON), in photo pixels."""
    return [
        from_canvas(shape, scale)
        for shape in (drawing or {}).get("objects", [])
        if isinstance(shape, Mapping) and str(shape.get("type", "")).lower() == "polygon"
    ]


def check_instances(
    instances: Iterable[Instance], width: int, height: int, classes: Iterable[str]
) -> tuple[list[Instance], list[str]]:
    """The instances to send (vertices cut at the photo's edge within a pixel) and, for each one refused,
    why: fewer than three points, no area, outside the photo, or a class the model does not know."""
    known = set(classes)
    kept: list[Instance] = []
    problems: list[str] = []
    for n, inst in enumerate(instances, start=1):
        name = f"Outline {n} ({inst.label or 'no class'})"
        if len(inst.polygon) < 3:
            problems.append(f"{name} has {len(inst.polygon)} points: an outline needs at least three.")
            continue
        if polygon_area(inst.polygon) < 1.0:
            problems.append(f"{name} encloses no area: its points lie on one line.")
            continue
        if any(x < -1 or y < -1 or x > width + 1 or y > height + 1 for x, y in inst.polygon):
            problems.append(f"{name} reaches outside the {width}x{height} photo. Draw it on the photo.")
            continue
        if inst.label not in known:
            choices = ", ".join(sorted(known)) or "none"
            problems.append(f"{name}: {inst.label or 'no class'} is not a class of the model ({choices}).")
            continue
        clipped = tuple(
            (min(float(width), max(0.0, x)), min(float(height), max(0.0, y))) for x, y in inst.polygon
        )
        kept.append(Instance(inst.label, clipped, inst.confidence))
    return kept, problems
