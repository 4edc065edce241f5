"""Dataset item rules shared by uploads and imports: the split from the image hash, the storage key, and
labels parsed and checked into their one stored form."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from linesight_core import polygons
from linesight_core.contracts.datasets import ClassifyLabel, DetectLabel, SegmentLabel, Split
from linesight_core.errors import Problem

# Stored labels are rounded like YOLO text files, so the same box read twice compares equal.
DECIMALS = 6
EXTENSIONS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "BMP": ".bmp", "TIFF": ".tif"}
CONTENT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "BMP": "image/bmp",
    "TIFF": "image/tiff",
}


def split_for(sha256: str) -> Split:
    """train 70 %, val 15 %, test 15 %, from the image's own hash: an image never changes split, and the
    same photo uploaded twice (or to another dataset) lands in the same split."""
    bucket = int(sha256[:8], 16) % 100
    if bucket < 70:
        return "train"
    if bucket < 85:
        return "val"
    return "test"


def image_key(sha256: str, fmt: str) -> str:
    return f"images/{sha256[:2]}/{sha256}{EXTENSIONS.get(fmt, '.img')}"


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    msg = str(err.get("msg", "invalid"))
    return msg.removeprefix("Value error, ")


def box(class_id: int, cx: float, cy: float, w: float, h: float, class_count: int) -> dict[str, Any]:
    """One box in stored form; raises ValueError saying what is wrong with it."""
    if not 0 <= class_id < class_count:
        raise ValueError(f"class id {class_id} is not a class of the dataset (ids 0..{class_count - 1})")
    values = [round(v, DECIMALS) if math.isfinite(v) else v for v in (cx, cy, w, h)]
    try:
        label = DetectLabel(class_id=class_id, cx=values[0], cy=values[1], w=values[2], h=values[3])
    except ValidationError as exc:
        raise ValueError(_first_error(exc)) from None
    return label.model_dump()


def canonical_boxes(boxes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(boxes, key=lambda b: (b["class_id"], b["cx"], b["cy"], b["w"], b["h"]))


def polygon(
    class_id: int, points: list[tuple[float, float]], class_count: int, size: tuple[int, int] | None
) -> dict[str, Any]:
    """One polygon in stored form; raises ValueError saying what is wrong with it. `size` (width,
    height) sets the smallest area in pixels; without it only a zero area is refused."""
    if not 0 <= class_id < class_count:
        raise ValueError(f"class id {class_id} is not a class of the dataset (ids 0..{class_count - 1})")
    points = polygons.normalised(points)
    problem = polygons.polygon_problem(points, *(size or (None, None)))
    if problem:
        raise ValueError(problem)
    return {"class_id": class_id, "polygon": [list(p) for p in points]}


def canonical_polygons(labels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(labels, key=lambda p: (p["class_id"], p["polygon"]))


def _detect_line(fields: list[str], class_count: int, size: tuple[int, int] | None) -> dict[str, Any]:
    cx, cy, w, h = (float(f) for f in fields[1:])
    return box(int(fields[0]), cx, cy, w, h, class_count)


def _segment_line(fields: list[str], class_count: int, size: tuple[int, int] | None) -> dict[str, Any]:
    values = [float(f) for f in fields[1:]]
    return polygon(int(fields[0]), list(zip(values[::2], values[1::2], strict=True)), class_count, size)


def _line_shape(task: str, fields: list[str]) -> str | None:
    """What is wrong with the number of values on a line, before any is read."""
    if task == "detect":
        if len(fields) != 5:
            return f"expected 'class cx cy w h' (5 values), got {len(fields)}"
        return None
    if len(fields) == 5:
        return (
            "expected 'class x1 y1 x2 y2 x3 y3 ...', a class and at least 3 points; 5 values are a box "
            "(the detect format) or a polygon of 2 points"
        )
    if len(fields) < 1 + 2 * polygons.MIN_POINTS or len(fields) % 2 == 0:
        return (
            "expected 'class x1 y1 x2 y2 x3 y3 ...', a class and at least 3 points as x y pairs "
            f"(an odd number of values, at least 7); got {len(fields)} values"
        )
    return None


def parse_label_text(
    task: str,
    text: str,
    class_count: int,
    id_map: dict[int, int] | None = None,
    size: tuple[int, int] | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """YOLO label lines → (labels, problems): `class cx cy w h` (detect) or `class x1 y1 x2 y2 ...`
    (segment), normalised. `id_map` renumbers the classes of an imported archive onto the dataset's; an
    id missing from it is a problem. `size` is the image's (width, height) when known."""
    labels: list[dict[str, Any]] = []
    problems: list[str] = []
    parse = _detect_line if task == "detect" else _segment_line
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split()
        shape = _line_shape(task, fields)
        if shape:
            problems.append(f"line {number}: {shape}: {line[:60]!r}")
            continue
        try:
            class_id = int(fields[0])
            [float(f) for f in fields[1:]]
        except ValueError:
            what = "the box 4 numbers" if task == "detect" else "the points numbers"
            problems.append(f"line {number}: the class must be an integer and {what}: {line[:60]!r}")
            continue
        if id_map is not None:
            if class_id not in id_map:
                problems.append(f"line {number}: class id {class_id} is not in the archive's names")
                continue
            fields[0] = str(id_map[class_id])
        try:
            labels.append(parse(fields, class_count, size))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    canonical = canonical_boxes if task == "detect" else canonical_polygons
    return canonical(labels), problems


def class_index(class_names: list[str], name: str) -> int:
    try:
        return class_names.index(name)
    except ValueError:
        raise ValueError(
            f"{name[:100]!r} is not a class of the dataset; classes: {', '.join(class_names)}"
        ) from None


def labels_from_text(
    task: str, class_names: list[str], text: str, size: tuple[int, int] | None = None
) -> Any:
    """The `labels` form field of an upload: YOLO lines (detect, segment) or a class name (classify);
    empty means a background image (detect, segment) or not labelled yet (classify)."""
    if task == "classify":
        name = text.strip()
        if not name:
            return None
        if name in class_names:
            return {"class_id": class_names.index(name)}
        first = name.splitlines()[0].split()
        if "\n" in name or (len(first) == 5 and first[0].isdigit()):
            raise Problem(422, "A classify dataset takes one class name as labels, not YOLO box lines.")
        raise Problem(422, f"{name[:100]!r} is not a class of the dataset; classes: {', '.join(class_names)}")
    labels, problems = parse_label_text(task, text, len(class_names), size=size)
    if problems:
        shown = "; ".join(problems[:5])
        raise Problem(
            422,
            f"The labels are not valid YOLO {task} lines: {shown}",
            errors=problems[:50],
        )
    return labels


def check_labels(
    task: str,
    class_names: list[str],
    labels: list[DetectLabel] | list[SegmentLabel] | ClassifyLabel | None,
    size: tuple[int, int] | None = None,
) -> Any:
    """Labels from a JSON body, checked against the dataset's task and classes (and, for polygons, the
    item's image size)."""
    if task in ("detect", "segment"):
        other = SegmentLabel if task == "detect" else DetectLabel
        what = "boxes" if task == "detect" else "polygons"
        if not isinstance(labels, list) or any(isinstance(b, other) for b in labels):
            raise Problem(
                422, f"A {task} dataset takes a list of {what} as labels ([] for a background image)."
            )
        problems = []
        out = []
        for i, b in enumerate(labels):
            try:
                if isinstance(b, DetectLabel):
                    out.append(box(b.class_id, b.cx, b.cy, b.w, b.h, len(class_names)))
                else:
                    out.append(polygon(b.class_id, list(b.polygon), len(class_names), size))
            except ValueError as exc:
                problems.append(f"{what[:-1]} {i}: {exc}")
        if problems:
            raise Problem(422, f"The labels are not valid: {'; '.join(problems[:5])}", errors=problems[:50])
        return canonical_boxes(out) if task == "detect" else canonical_polygons(out)
    if isinstance(labels, list):
        raise Problem(422, 'A classify dataset takes {"class_id": n} (or null) as labels, not boxes.')
    if labels is None:
        return None
    if labels.class_id >= len(class_names):
        raise Problem(
            422, f"class id {labels.class_id} is not a class of the dataset (ids 0..{len(class_names) - 1})"
        )
    return {"class_id": labels.class_id}


def is_labelled(labels: Any) -> bool:
    return bool(labels)
