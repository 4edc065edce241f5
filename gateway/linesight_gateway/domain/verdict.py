"""A station's rules turn a prediction into OK / NOK with a confidence and a confidence status."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from linesight_core.contracts.inference import Prediction
from linesight_gateway.domain.defect_rules import DefectRule, judge_defects

SUCCESS, LOW_CONFIDENCE, REJECTED = "success", "low_confidence", "rejected"


@dataclass(frozen=True)
class StationRules:
    mode: str  # detect | classify | segment
    expected: dict[str, int]  # label → minimum count (detect)
    ok_classes: frozenset[str]  # classify
    success: float
    low_confidence: float
    defect_rules: tuple[DefectRule, ...] = ()  # segment
    mm_per_pixel: float | None = None  # segment: the station's calibration
    roi: tuple[tuple[float, float], ...] | None = None  # segment: normalised polygon; None: whole photo


@dataclass
class Verdict:
    verdict: str  # OK | NOK
    confidence: float
    confidence_status: str
    counts: dict[str, int] = field(default_factory=dict)
    missing: list[dict[str, Any]] = field(default_factory=list)
    unexpected: list[dict[str, Any]] = field(default_factory=list)
    top_predictions: list[dict[str, Any]] = field(default_factory=list)
    failed_rules: list[dict[str, Any]] = field(default_factory=list)  # segment
    defects: list[dict[str, Any]] = field(default_factory=list)  # segment


def confidence_status(confidence: float, rules: StationRules) -> str:
    if confidence >= rules.success:
        return SUCCESS
    if confidence >= rules.low_confidence:
        return LOW_CONFIDENCE
    return REJECTED


def judge(prediction: Prediction, rules: StationRules) -> Verdict:
    if rules.mode == "classify":
        return _judge_classify(prediction, rules)
    if rules.mode == "segment":
        return _judge_segment(prediction, rules)
    return _judge_detect(prediction, rules)


MAX_INSTANCES = 100  # kept with a segment answer, with their outlines (best first)


def _judge_segment(prediction: Prediction, rules: StationRules) -> Verdict:
    """NOK when any defect rule fails (defect_rules.py); the answer's confidence is the surest instance
    behind a failed rule (NOK), or one minus the best confidence of a sub-threshold defect (OK)."""
    instances = sorted(prediction.instances or [], key=lambda i: i.confidence, reverse=True)
    judged = judge_defects(
        prediction,
        list(rules.defect_rules),
        low_confidence=rules.low_confidence,
        mm_per_pixel=rules.mm_per_pixel,
        roi=list(rules.roi) if rules.roi else None,
    )
    return Verdict(
        verdict="NOK" if judged.failed_rules else "OK",
        confidence=round(judged.confidence, 4),
        confidence_status=confidence_status(judged.confidence, rules),
        counts=judged.counts,
        top_predictions=[i.model_dump(mode="json") for i in instances[:MAX_INSTANCES]],
        failed_rules=judged.failed_rules,
        defects=judged.defects,
    )


def _judge_classify(prediction: Prediction, rules: StationRules) -> Verdict:
    classes = prediction.classes or []
    if not classes:
        return Verdict("NOK", 0.0, REJECTED)
    top = classes[0]
    verdict = "OK" if top.label in rules.ok_classes else "NOK"
    return Verdict(
        verdict=verdict,
        confidence=round(top.confidence, 4),
        confidence_status=confidence_status(top.confidence, rules),
        top_predictions=[c.model_dump() for c in classes[:5]],
    )


def _judge_detect(prediction: Prediction, rules: StationRules) -> Verdict:
    """An item counts as present when detected with at least the low-confidence threshold. The answer's
    confidence is the weakest evidence it rests on: for OK, the confidence of the least sure detection
    needed to reach the minimum counts; for NOK, how sure we are that the missing items are not there
    (one minus the best confidence any sub-threshold detection of them had)."""
    detections = sorted(prediction.detections or [], key=lambda d: d.confidence, reverse=True)
    present = [d for d in detections if d.confidence >= rules.low_confidence]
    counts = Counter(d.label for d in present)
    by_label: dict[str, list[float]] = {}
    for d in detections:
        by_label.setdefault(d.label, []).append(d.confidence)

    missing = [
        {"label": label, "expected": need, "found": counts.get(label, 0)}
        for label, need in rules.expected.items()
        if counts.get(label, 0) < need
    ]
    unexpected = [
        {"label": label, "count": n} for label, n in sorted(counts.items()) if label not in rules.expected
    ]
    if missing:
        doubts = [c for m in missing for c in by_label.get(m["label"], []) if c < rules.low_confidence]
        confidence = 1.0 - max(doubts, default=0.0)
        verdict = "NOK"
    else:
        needed = [sorted(by_label[label], reverse=True)[need - 1] for label, need in rules.expected.items()]
        confidence = min(needed, default=1.0)
        verdict = "OK"
    return Verdict(
        verdict=verdict,
        confidence=round(confidence, 4),
        confidence_status=confidence_status(confidence, rules),
        counts=dict(counts),
        missing=missing,
        unexpected=unexpected,
        top_predictions=[d.model_dump() for d in detections[:20]],
    )
