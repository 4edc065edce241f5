"""A replay's figures: the operators' truth of each verified inspection, each version's answer turned into
a verdict by the station's rules, and the report (verdict accuracy, counting accuracy per class, NOK
recall, false-NOK rate, the inspections where the two versions disagree). Plain data in, plain data out."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from linesight_core.contracts.inference import Prediction
from linesight_gateway.db.models import Feedback, Inspection
from linesight_gateway.domain.defect_rules import DefectRule
from linesight_gateway.domain.verdict import StationRules, judge

MAX_DISAGREEMENTS = 500  # listed in the report; the count covers every one
MAX_BOXES = 50  # boxes kept with each detect answer (to draw it); the counts cover every one


def rules_to_json(rules: StationRules) -> dict[str, Any]:
    return {
        "mode": rules.mode,
        "expected": rules.expected,
        "ok_classes": sorted(rules.ok_classes),
        "success": rules.success,
        "low_confidence": rules.low_confidence,
        "defect_rules": [asdict(r) for r in rules.defect_rules],
        "mm_per_pixel": rules.mm_per_pixel,
        "roi": [list(p) for p in rules.roi] if rules.roi else None,
    }


def rules_from_json(data: dict[str, Any]) -> StationRules:
    return StationRules(
        mode=data["mode"],
        expected={k: int(v) for k, v in data["expected"].items()},
        ok_classes=frozenset(data["ok_classes"]),
        success=float(data["success"]),
        low_confidence=float(data["low_confidence"]),
        defect_rules=tuple(DefectRule.of(r) for r in data.get("defect_rules") or []),
        mm_per_pixel=data.get("mm_per_pixel"),
        roi=tuple((float(x), float(y)) for x, y in data["roi"]) if data.get("roi") else None,
    )


def truth_of(inspection: Inspection, feedback: Feedback, rules: StationRules) -> dict[str, Any]:
    """What the item really was: the stored answer when the operator confirmed it, else the correction."""
    if rules.mode == "classify":
        if feedback.correct:
            top = (inspection.predictions or [{}])[0].get("label")
            return {"verdict": inspection.verdict, "class": top}
        label = feedback.corrected_class
        verdict = feedback.corrected_verdict or ("OK" if label in rules.ok_classes else "NOK")
        return {"verdict": verdict, "class": label}
    if feedback.correct:
        return {"verdict": inspection.verdict, "counts": dict(inspection.counts or {})}
    if feedback.corrected_counts is not None:
        counts = {k: int(v) for k, v in feedback.corrected_counts.items()}
    elif feedback.corrected_instances is not None:
        counts = dict(Counter(i["label"] for i in feedback.corrected_instances))
    else:
        counts = dict(Counter(b["label"] for b in feedback.corrected_boxes or []))
    verdict = feedback.corrected_verdict
    if verdict is None:
        short = any(counts.get(label, 0) < need for label, need in rules.expected.items())
        verdict = "NOK" if short else "OK"
    return {"verdict": verdict, "counts": counts}


def answer_of(prediction: Prediction, rules: StationRules) -> dict[str, Any]:
    """A version's answer as the station would have judged it."""
    verdict = judge(prediction, rules)
    answer: dict[str, Any] = {"verdict": verdict.verdict, "confidence": verdict.confidence}
    if rules.mode == "classify":
        answer["class"] = (prediction.classes or [None])[0].label if prediction.classes else None
    else:
        answer["counts"] = verdict.counts
        # The detections that were counted, so that a disagreement can be drawn on its photo.
        answer["boxes"] = [
            {"label": d.label, "confidence": round(d.confidence, 4), **d.box.model_dump()}
            for d in prediction.detections or []
            if d.confidence >= rules.low_confidence
        ][:MAX_BOXES]
    return answer


def counted_classes(items: list[dict[str, Any]], rules: StationRules) -> list[str]:
    labels = set(rules.expected)
    for item in items:
        labels |= {k for k, v in item["truth"].get("counts", {}).items() if v}
    return sorted(labels)


def same_answer(a: dict[str, Any], b: dict[str, Any], classes: list[str]) -> bool:
    """Two answers (`answer_of`'s shape) agree: the same verdict, and the same counts of `classes` or the
    same class."""
    if a["verdict"] != b["verdict"]:
        return False
    if "counts" in a:
        return all(a["counts"].get(c, 0) == b["counts"].get(c, 0) for c in classes)
    return a.get("class") == b.get("class")


def _ratio(hits: int, of: int) -> float | None:
    return hits / of if of else None


def score(items: list[dict[str, Any]], side: str, rules: StationRules, classes: list[str]) -> dict[str, Any]:
    """The figures of one version (`side`: candidate or production) against the truth."""
    n = len(items)
    right = sum(1 for i in items if i[side]["verdict"] == i["truth"]["verdict"])
    bad = [i for i in items if i["truth"]["verdict"] == "NOK"]
    good = [i for i in items if i["truth"]["verdict"] == "OK"]
    caught = sum(1 for i in bad if i[side]["verdict"] == "NOK")
    false_nok = sum(1 for i in good if i[side]["verdict"] == "NOK")
    figures: dict[str, Any] = {
        "verified": n,
        "verdict_accuracy": _ratio(right, n),
        "truly_nok": len(bad),
        "truly_ok": len(good),
        "nok_recall": _ratio(caught, len(bad)),
        "false_nok_rate": _ratio(false_nok, len(good)),
    }
    if rules.mode == "detect":
        figures["counting_accuracy"] = {
            c: _ratio(
                sum(1 for i in items if i[side]["counts"].get(c, 0) == i["truth"]["counts"].get(c, 0)), n
            )
            for c in classes
        }
        figures["all_counts_accuracy"] = _ratio(
            sum(
                1
                for i in items
                if all(i[side]["counts"].get(c, 0) == i["truth"]["counts"].get(c, 0) for c in classes)
            ),
            n,
        )
    else:
        figures["class_accuracy"] = _ratio(
            sum(1 for i in items if i[side].get("class") == i["truth"].get("class")), n
        )
        per_class: dict[str, float | None] = {}
        for label in sorted({i["truth"].get("class") for i in items if i["truth"].get("class")}):
            of = [i for i in items if i["truth"].get("class") == label]
            per_class[label] = _ratio(sum(1 for i in of if i[side].get("class") == label), len(of))
        figures["per_class_accuracy"] = per_class
    return figures


def report(items: list[dict[str, Any]], rules: StationRules) -> dict[str, Any]:
    """The whole report of a replay from its items (replayed or skipped)."""
    replayed = [i for i in items if "skipped" not in i]
    skipped = [{"inspection_id": i["inspection_id"], "reason": i["skipped"]} for i in items if "skipped" in i]
    classes = counted_classes(replayed, rules)
    disagreements = [
        {
            "inspection_id": i["inspection_id"],
            "created_at": i.get("created_at"),
            "truth": i["truth"],
            "candidate": i["candidate"],
            "production": i["production"],
        }
        for i in replayed
        if not same_answer(i["candidate"], i["production"], classes)
    ]
    return {
        "replayed": len(replayed),
        "skipped": len(skipped),
        "skipped_items": skipped[:MAX_DISAGREEMENTS],
        "classes": classes,
        "candidate": score(replayed, "candidate", rules, classes),
        "production": score(replayed, "production", rules, classes),
        "disagreement_count": len(disagreements),
        "disagreements": disagreements[:MAX_DISAGREEMENTS],
    }
