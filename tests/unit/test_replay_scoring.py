"""A replay's figures at a classify station, worked out by hand: the truth from confirmed and corrected
feedback, each version's answer judged by the station's rules, and where the two disagree."""

import pytest

from linesight_core.contracts.inference import ClassScore, ImageSize, Prediction, StageTimings
from linesight_gateway.db.models import Feedback, Inspection
from linesight_gateway.domain.replay_scoring import (
    answer_of,
    report,
    rules_from_json,
    rules_to_json,
    truth_of,
)
from linesight_gateway.domain.verdict import StationRules

pytestmark = pytest.mark.unit

RULES = StationRules(
    mode="classify", expected={}, ok_classes=frozenset({"ok"}), success=0.7, low_confidence=0.5
)


def prediction(label: str) -> Prediction:
    return Prediction(
        model_name="m",
        alias=None,
        version=1,
        sha256="0" * 64,
        task="classify",
        detections=None,
        classes=[ClassScore(label=label, class_id=0, confidence=0.9)],
        image=ImageSize(width=8, height=8),
        batch_size=1,
        timings_ms=StageTimings(queue=0, preprocess=0, inference=0, postprocess=0, total=0),
    )


def item(stored: str, feedback: Feedback, candidate: str, production: str) -> dict:
    inspection = Inspection(verdict="OK" if stored == "ok" else "NOK", predictions=[{"label": stored}])
    return {
        "inspection_id": stored + candidate + production,
        "truth": truth_of(inspection, feedback, RULES),
        "candidate": answer_of(prediction(candidate), RULES),
        "production": answer_of(prediction(production), RULES),
    }


def test_classify_figures_against_confirmed_and_corrected_feedback():
    confirmed = Feedback(correct=True)
    items = [
        item("ok", confirmed, "ok", "ok"),  # truth ok: both right
        item("scratch", confirmed, "scratch", "ok"),  # truth scratch: production misses it
        item("ok", Feedback(correct=False, corrected_class="dent", corrected_verdict="NOK"), "dent", "ok"),
        item(
            "dent", Feedback(correct=False, corrected_class="ok", corrected_verdict="OK"), "scratch", "dent"
        ),
    ]
    assert rules_from_json(rules_to_json(RULES)) == RULES
    out = report(items, RULES)
    assert out["replayed"] == 4 and out["skipped"] == 0
    candidate, production = out["candidate"], out["production"]
    # truth: ok/OK, scratch/NOK, dent/NOK, ok/OK
    assert candidate["verdict_accuracy"] == 0.75 and production["verdict_accuracy"] == 0.25
    assert candidate["nok_recall"] == 1.0 and production["nok_recall"] == 0.0
    assert candidate["false_nok_rate"] == 0.5 and production["false_nok_rate"] == 0.5
    assert candidate["class_accuracy"] == 0.75 and production["class_accuracy"] == 0.25
    assert candidate["per_class_accuracy"] == {"dent": 1.0, "ok": 0.5, "scratch": 1.0}
    assert production["per_class_accuracy"] == {"dent": 0.0, "ok": 0.5, "scratch": 0.0}
    assert out["disagreement_count"] == 3
    assert [d["inspection_id"] for d in out["disagreements"]] == [
        "scratchscratchok",
        "okdentok",
        "dentscratchdent",
    ]
    last = out["disagreements"][-1]
    assert last["truth"] == {"verdict": "OK", "class": "ok"}
    assert last["candidate"]["class"] == "scratch" and last["production"]["class"] == "dent"
