"""A segment station's defect rules: each instance of a defect class measured inside the station's region
of interest (in px or mm), the limits on count, largest area, total area share and length checked, and
the rules that failed put in words ("crack 7.2 mm > 5 mm")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from linesight_core.contracts.inference import Prediction, SegmentInstance
from linesight_core.mask_shapes import mask_length

RULE_KINDS = ("count", "largest_area", "total_area_percent", "length")


@dataclass(frozen=True)
class DefectRule:
    label: str
    max_count: int | None = None
    max_largest_area: float | None = None
    max_total_area_percent: float | None = None
    max_length: float | None = None
    unit: str = "px"  # px | mm

    @classmethod
    def of(cls, data: dict[str, Any]) -> DefectRule:
        fields: dict[str, Any] = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**fields)

    @property
    def limits_nothing(self) -> bool:
        return all(
            v is None
            for v in (self.max_count, self.max_largest_area, self.max_total_area_percent, self.max_length)
        )


@dataclass(frozen=True)
class Measured:
    """One instance of a defect class: its part inside the region of interest, in pixels."""

    instance: SegmentInstance
    area_px: float
    length_px: float

    @property
    def inside(self) -> bool:
        return self.area_px > 0


def _fill(
    points: list[tuple[float, float]] | np.ndarray, shape: tuple[int, int], origin: tuple[int, int] = (0, 0)
) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.uint8)
    pts = np.rint(np.asarray(points, dtype=np.float64) - origin).astype(np.int32)
    if len(pts) >= 3:
        cv2.fillPoly(mask, [pts], 1)
    return mask


def roi_mask(roi: list[tuple[float, float]] | None, width: int, height: int) -> np.ndarray | None:
    """The region of interest (normalised polygon) rasterised at the photo's size; None: the whole photo."""
    if not roi:
        return None
    return _fill([(x * width, y * height) for x, y in roi], (height, width))


def measure(instance: SegmentInstance, roi: np.ndarray | None) -> Measured:
    """The instance's area and length inside the region. Without a region (or wholly inside it) they are
    the inference service's figures, from the model's full mask; a defect partly inside counts only the
    pixels of its outline's rasterised mask that are inside, and the length of that clipped part."""
    if roi is None:
        return Measured(instance, float(instance.area_px), float(instance.length_px))
    if len(instance.polygon) < 3:
        return Measured(instance, 0.0, 0.0)
    height, width = roi.shape
    pts = np.asarray(instance.polygon, dtype=np.float64)
    x0, y0 = (max(0, int(np.floor(v))) for v in pts.min(axis=0))
    x1, y1 = (int(np.ceil(v)) + 1 for v in pts.max(axis=0))
    x1, y1 = min(x1, width), min(y1, height)
    if x1 <= x0 or y1 <= y0:
        return Measured(instance, 0.0, 0.0)
    own = _fill(pts, (y1 - y0, x1 - x0), origin=(x0, y0))
    clipped = own & roi[y0:y1, x0:x1]
    inside = int(np.count_nonzero(clipped))
    if inside == int(np.count_nonzero(own)):
        return Measured(instance, float(instance.area_px), float(instance.length_px))
    return Measured(instance, float(inside), mask_length(clipped) if inside else 0.0)


def _fmt(value: float) -> str:
    """Rounded for people: 1520, 12.5, 7.2, 0.45."""
    if abs(value) >= 100:
        return f"{value:.0f}"
    text = f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _failure(label: str, rule: str, value: float, limit: float, unit: str | None) -> dict[str, Any]:
    if rule == "count":
        text = f"{label}: {int(value)} found > {int(limit)} allowed"
    elif rule == "total_area_percent":
        text = f"{label} {_fmt(value)} % of the surface > {_fmt(limit)} %"
    else:
        text = f"{label} {_fmt(value)} {unit} > {_fmt(limit)} {unit}"
    return {
        "label": label,
        "rule": rule,
        "value": round(value, 4),
        "limit": limit,
        "unit": unit,
        "text": text,
    }


@dataclass
class DefectJudgement:
    failed_rules: list[dict[str, Any]]
    defects: list[dict[str, Any]]
    counts: dict[str, int]
    confidence: float  # NOK: the surest instance behind a failed rule; OK: 1 - the best doubt


def judge_defects(
    prediction: Prediction,
    rules: list[DefectRule],
    *,
    low_confidence: float,
    mm_per_pixel: float | None,
    roi: list[tuple[float, float]] | None,
) -> DefectJudgement:
    """Instances with at least the low-confidence threshold count; a rule fails when its class's counted
    instances inside the region break one of its limits. A rule with no limit allows none."""
    width, height = prediction.image.width, prediction.image.height
    region = roi_mask(roi, width, height)
    surface = float(np.count_nonzero(region)) if region is not None else float(width * height)
    by_label = {r.label: r for r in rules}
    measured = [measure(i, region) for i in prediction.instances or [] if i.label in by_label]
    counted = [m for m in measured if m.inside and m.instance.confidence >= low_confidence]

    failed: list[dict[str, Any]] = []
    behind: list[float] = []
    for rule in rules:
        scale = mm_per_pixel if rule.unit == "mm" and mm_per_pixel else 1.0
        area_unit, length_unit = f"{rule.unit}²", rule.unit
        mine = [m for m in counted if m.instance.label == rule.label]
        fails: list[dict[str, Any]] = []
        max_count = 0 if rule.limits_nothing else rule.max_count
        if max_count is not None and len(mine) > max_count:
            fails.append(_failure(rule.label, "count", len(mine), max_count, None))
        if mine and rule.max_largest_area is not None:
            largest = max(m.area_px for m in mine) * scale * scale
            if largest > rule.max_largest_area:
                fails.append(_failure(rule.label, "largest_area", largest, rule.max_largest_area, area_unit))
        if mine and rule.max_total_area_percent is not None and surface > 0:
            share = sum(m.area_px for m in mine) / surface * 100.0
            if share > rule.max_total_area_percent:
                fails.append(
                    _failure(rule.label, "total_area_percent", share, rule.max_total_area_percent, "%")
                )
        if mine and rule.max_length is not None:
            longest = max(m.length_px for m in mine) * scale
            if longest > rule.max_length:
                fails.append(_failure(rule.label, "length", longest, rule.max_length, length_unit))
        if fails:
            failed.extend(fails)
            behind.append(max(m.instance.confidence for m in mine))

    defects = []
    for m in measured:
        if m.instance.confidence < low_confidence:
            continue
        rule = by_label[m.instance.label]
        scale = mm_per_pixel if rule.unit == "mm" and mm_per_pixel else 1.0
        defects.append(
            {
                "label": m.instance.label,
                "confidence": round(m.instance.confidence, 4),
                # Wholly outside the region: its full size, for the record (no rule looks at it).
                "area": round((m.area_px if m.inside else m.instance.area_px) * scale * scale, 4),
                "length": round((m.length_px if m.inside else m.instance.length_px) * scale, 4),
                "unit": rule.unit,
                "inside_roi": m.inside,
            }
        )
    counts: dict[str, int] = {}
    for m in counted:
        counts[m.instance.label] = counts.get(m.instance.label, 0) + 1
    if failed:
        confidence = max(behind)
    else:
        doubts = [
            m.instance.confidence for m in measured if m.inside and m.instance.confidence < low_confidence
        ]
        confidence = 1.0 - max(doubts, default=0.0)
    return DefectJudgement(failed, defects, counts, confidence)
