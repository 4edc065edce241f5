"""Dataset item rules shared by uploads and imports: the split from the image hash, the storage key, and
labels parsed and checked into their one stored form."""

from __future__ import annotations

import math
from typing import Any

from pydantic import ValidationError

from linesight_core.contracts.datasets import ClassifyLabel, DetectLabel, Split
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


def parse_detect_text(
    text: str, class_count: int, id_map: dict[int, int] | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """YOLO label lines (`class cx cy w h`, normalised) → (boxes, problems). `id_map` renumbers the
    classes of an imported archive onto the dataset's; an id missing from it is a problem."""
    boxes: list[dict[str, Any]] = []
    problems: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        fields = line.split()
        if len(fields) != 5:
            problems.append(
                f"line {number}: expected 'class cx cy w h' (5 values), got {len(fields)}: {line[:60]!r}"
            )
            continue
        try:
            class_id = int(fields[0])
            cx, cy, w, h = (float(f) for f in fields[1:])
        except ValueError:
            problems.append(
                f"line {number}: the class must be an integer and the box 4 numbers: {line[:60]!r}"
            )
            continue
        if id_map is not None:
            if class_id not in id_map:
                problems.append(f"line {number}: class id {class_id} is not in the archive's names")
                continue
            class_id = id_map[class_id]
        try:
            boxes.append(box(class_id, cx, cy, w, h, class_count))
        except ValueError as exc:
            problems.append(f"line {number}: {exc}")
    return canonical_boxes(boxes), problems


def class_index(class_names: list[str], name: str) -> int:
    try:
        return class_names.index(name)
    except ValueError:
        raise ValueError(
            f"{name[:100]!r} is not a class of the dataset; classes: {', '.join(class_names)}"
        ) from None


def labels_from_text(task: str, class_names: list[str], text: str) -> Any:
    """The `labels` form field of an upload: YOLO lines (detect) or a class name (classify); empty means
    a background image (detect) or not labelled yet (classify)."""
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
    boxes, problems = parse_detect_text(text, len(class_names))
    if problems:
        shown = "; ".join(problems[:5])
        raise Problem(
            422,
            f"The labels are not valid YOLO detect lines: {shown}",
            errors=problems[:50],
        )
    return boxes


def check_labels(task: str, class_names: list[str], labels: list[DetectLabel] | ClassifyLabel | None) -> Any:
    """Labels from a JSON body, checked against the dataset's task and classes."""
    if task == "detect":
        if not isinstance(labels, list):
            raise Problem(
                422, "A detect dataset takes a list of boxes as labels ([] for a background image)."
            )
        problems = []
        boxes = []
        for i, b in enumerate(labels):
            try:
                boxes.append(box(b.class_id, b.cx, b.cy, b.w, b.h, len(class_names)))
            except ValueError as exc:
                problems.append(f"box {i}: {exc}")
        if problems:
            raise Problem(422, f"The labels are not valid: {'; '.join(problems[:5])}", errors=problems[:50])
        return canonical_boxes(boxes)
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
