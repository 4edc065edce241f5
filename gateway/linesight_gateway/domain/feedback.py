"""Feedback: operators confirm or correct an answer; every change is kept; corrections are checked
against the classes of the model version that answered and the size of the photo."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from linesight_core import polygons
from linesight_core.errors import Problem
from linesight_gateway.db.models import Feedback, FeedbackRevision, Inspection, Station
from linesight_gateway.domain.access import Principal


def check_corrections(
    inspection: Inspection, station: Station, body: dict[str, Any], class_names: set[str] | None
) -> None:
    if body["correct"]:
        return
    if station.mode != "segment" and body.get("instances") is not None:
        raise Problem(
            422, f"instances (mask corrections) are for segment stations; this one is {station.mode}."
        )
    if station.mode == "segment":
        check_instances(inspection, body, class_names)
        return
    if station.mode == "detect":
        if body.get("corrected_class") is not None:
            raise Problem(422, "corrected_class is for classify stations; this one detects items.")
        if body.get("corrected_counts") is None and body.get("corrected_boxes") is None:
            raise Problem(
                422, "A wrong answer at a detect station needs corrected_counts or corrected_boxes."
            )
        if body.get("use_for_training") and body.get("corrected_boxes") is None:
            raise Problem(
                422,
                "use_for_training at a detect station needs corrected_boxes: counts alone cannot "
                "teach a detector where the items are.",
            )
    else:
        if body.get("corrected_counts") is not None or body.get("corrected_boxes") is not None:
            raise Problem(422, "Counts and boxes are for detect stations; give corrected_class.")
        if body.get("corrected_class") is None:
            raise Problem(422, "A wrong answer at a classify station needs corrected_class.")
    labels = set((body.get("corrected_counts") or {}).keys())
    labels |= {b["label"] for b in body.get("corrected_boxes") or []}
    if body.get("corrected_class"):
        labels.add(body["corrected_class"])
    if class_names is not None:
        unknown = sorted(labels - class_names)
        if unknown:
            raise Problem(
                422,
                f"{', '.join(unknown)}: not a class of the model that answered "
                f"(classes: {', '.join(sorted(class_names))}).",
            )
    for n, box in enumerate(body.get("corrected_boxes") or []):
        if box["x2"] > inspection.image_width or box["y2"] > inspection.image_height:
            raise Problem(
                422,
                f"Box {n + 1} ({box['label']}) reaches outside the "
                f"{inspection.image_width}x{inspection.image_height} photo.",
            )


def check_instances(inspection: Inspection, body: dict[str, Any], class_names: set[str] | None) -> None:
    """A segment correction is the full list of instances; each polygon follows the dataset's rules, in
    pixels of the stored photo, and names a class of the model that answered."""
    others = [
        k for k in ("corrected_counts", "corrected_boxes", "corrected_class") if body.get(k) is not None
    ]
    if others:
        raise Problem(422, f"{', '.join(others)}: not for segment stations; give instances (label, polygon).")
    if body.get("instances") is None:
        raise Problem(
            422,
            "A wrong answer at a segment station needs instances: every defect as it should be, with its "
            "polygon in photo pixels ([] when there is none).",
        )
    w, h = inspection.image_width, inspection.image_height
    for n, inst in enumerate(body["instances"], start=1):
        if class_names is not None and inst["label"] not in class_names:
            raise Problem(
                422,
                f"Instance {n}: {inst['label']!r} is not a class of the model that answered "
                f"(classes: {', '.join(sorted(class_names))}).",
            )
        outside = next(((x, y) for x, y in inst["polygon"] if not (0 <= x <= w and 0 <= y <= h)), None)
        if outside is not None:
            raise Problem(
                422,
                f"Instance {n} ({inst['label']}): point ({outside[0]}, {outside[1]}) is outside the "
                f"{w}x{h} photo; polygons are [x, y] points in pixels of the photo.",
            )
        points = polygons.normalised([(x / w, y / h) for x, y in inst["polygon"]])
        problem = polygons.polygon_problem(points, w, h)
        if problem:
            raise Problem(
                422,
                f"Instance {n} ({inst['label']}): {problem}; polygons are [x, y] points in pixels of the "
                f"{w}x{h} photo.",
            )


def save(
    session: Session, inspection: Inspection, body: dict[str, Any], by: Principal
) -> tuple[Feedback, bool]:
    """Create or replace the feedback; returns it and whether it is new."""
    feedback = session.get(Feedback, inspection.id, with_for_update=True)
    created = feedback is None
    if feedback is None:
        feedback = Feedback(inspection_id=inspection.id, revision=0)
        session.add(feedback)
    for field in (
        "correct",
        "corrected_verdict",
        "corrected_counts",
        "corrected_boxes",
        "corrected_class",
        "notes",
        "use_for_training",
    ):
        setattr(feedback, field, body.get(field))
    feedback.corrected_instances = body.get("instances")
    feedback.revision = (feedback.revision or 0) + 1
    feedback.created_by = feedback.created_by or by.key_id
    feedback.updated_at = datetime.now(UTC)
    session.add(
        FeedbackRevision(
            inspection_id=inspection.id,
            revision=feedback.revision,
            content=body,
            by_key_id=by.key_id,
            by_name=by.name,
        )
    )
    session.flush()
    return feedback, created


def history(session: Session, inspection_id: Any) -> list[FeedbackRevision]:
    return list(
        session.scalars(
            select(FeedbackRevision)
            .where(FeedbackRevision.inspection_id == inspection_id)
            .order_by(FeedbackRevision.revision)
        )
    )
