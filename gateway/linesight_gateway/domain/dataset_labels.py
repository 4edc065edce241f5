"""A feedback's dataset item labels: the corrected boxes or instance polygons (YOLO text) or class,
checked against the dataset's classes; and which dataset a station's feedback goes to."""

from __future__ import annotations

from collections.abc import Callable

from linesight_gateway.db.models import Feedback, Inspection, Station


class NotTrainable(Exception):
    """The feedback cannot become a dataset item as it stands (a person has to change it)."""


def dataset_name(station: Station) -> str:
    return (station.training or {}).get("dataset") or station.name


def labels_text(feedback: Feedback, inspection: Inspection, station: Station, classes: list[str]) -> str:
    """The dataset item's labels in YOLO text form: `class cx cy w h` lines (detect) or a class name."""
    index = {name: i for i, name in enumerate(classes)}

    def class_id(label: str) -> int:
        if label not in index:
            raise NotTrainable(f"{label!r} is not a class of dataset classes {', '.join(classes)}")
        return index[label]

    if station.mode == "classify":
        if feedback.correct:
            top = (inspection.predictions or [{}])[0].get("label")
            if not top:
                raise NotTrainable("the answer has no class to confirm")
            return str(top)
        if not feedback.corrected_class:
            raise NotTrainable("a wrong answer needs corrected_class to be used for training")
        class_id(feedback.corrected_class)
        return feedback.corrected_class

    if station.mode == "segment":
        return _segment_lines(feedback, inspection, station, class_id)

    if feedback.correct:
        # The detections that made the answer (at or above the station's low-confidence threshold).
        boxes = [
            {"label": p["label"], **p["box"]}
            for p in inspection.predictions or []
            if p.get("confidence", 0.0) >= station.low_confidence_threshold
        ]
    elif feedback.corrected_boxes is not None:
        boxes = feedback.corrected_boxes
    else:
        raise NotTrainable("corrected counts without boxes cannot become detection labels")
    w, h = inspection.image_width, inspection.image_height
    lines = []
    for b in boxes:
        x1, y1 = max(0.0, b["x1"]), max(0.0, b["y1"])
        x2, y2 = min(float(w), b["x2"]), min(float(h), b["y2"])
        if x2 <= x1 or y2 <= y1:
            continue
        lines.append(
            f"{class_id(b['label'])} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} "
            f"{(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
        )
    return "\n".join(lines)


def _segment_lines(
    feedback: Feedback, inspection: Inspection, station: Station, class_id: Callable[[str], int]
) -> str:
    """YOLO segmentation lines, `class x1 y1 x2 y2 ...` normalised: the operator's instances, or (a
    confirmed answer) the instances that counted, with the outlines the model gave."""
    if feedback.correct:
        instances = [
            {"label": p["label"], "polygon": p["polygon"]}
            for p in inspection.predictions or []
            if p.get("confidence", 0.0) >= station.low_confidence_threshold
            and len(p.get("polygon") or []) >= 3
        ]
    elif feedback.corrected_instances is not None:
        instances = feedback.corrected_instances
    else:
        raise NotTrainable("a wrong answer at a segment station needs instances to be used for training")
    w, h = inspection.image_width, inspection.image_height
    lines = []
    for inst in instances:
        points = " ".join(
            f"{min(max(x / w, 0.0), 1.0):.6f} {min(max(y / h, 0.0), 1.0):.6f}" for x, y in inst["polygon"]
        )
        lines.append(f"{class_id(inst['label'])} {points}")
    return "\n".join(lines)
