"""A station's rules turn predictions into verdicts (face blurring: test_face_blurring.py)."""

from linesight_core.contracts.inference import Prediction
from linesight_gateway.domain.verdict import StationRules, judge


def prediction(dets=None, classes=None, task="detect"):
    return Prediction.model_validate(
        {
            "model_name": "m",
            "alias": "production",
            "version": 2,
            "sha256": "x" * 64,
            "task": task,
            "detections": dets,
            "classes": classes,
            "image": {"width": 100, "height": 100},
            "batch_size": 1,
            "timings_ms": {"queue": 0, "preprocess": 0, "inference": 0, "postprocess": 0, "total": 0},
        }
    )


def det(label, conf, cid=0):
    return {
        "label": label,
        "class_id": cid,
        "confidence": conf,
        "box": {"x1": 0, "y1": 0, "x2": 10, "y2": 10},
    }


RULES = StationRules("detect", {"wrench": 1, "screwdriver": 2}, frozenset(), success=0.7, low_confidence=0.5)


def test_all_present_is_ok_with_weakest_needed_confidence():
    v = judge(
        prediction(
            [det("wrench", 0.95), det("screwdriver", 0.9), det("screwdriver", 0.62), det("tape", 0.8)]
        ),
        RULES,
    )
    assert v.verdict == "OK"
    assert v.confidence == 0.62
    assert v.confidence_status == "low_confidence"
    assert v.unexpected == [{"label": "tape", "count": 1}]
    assert v.counts == {"wrench": 1, "screwdriver": 2, "tape": 1}


def test_missing_item_is_nok_and_doubt_lowers_confidence():
    v = judge(prediction([det("wrench", 0.95), det("screwdriver", 0.9), det("screwdriver", 0.3)]), RULES)
    assert v.verdict == "NOK"
    assert v.missing == [{"label": "screwdriver", "expected": 2, "found": 1}]
    assert v.confidence == 0.7
    assert v.confidence_status == "success"
    clear = judge(prediction([det("wrench", 0.95)]), RULES)
    assert clear.confidence == 1.0
    assert {m["label"] for m in clear.missing} == {"screwdriver"}


def test_classify_ok_classes_and_rejected_status():
    rules = StationRules("classify", {}, frozenset({"ok"}), success=0.7, low_confidence=0.5)
    ok = judge(
        prediction(classes=[{"label": "ok", "class_id": 1, "confidence": 0.91}], task="classify"), rules
    )
    assert (ok.verdict, ok.confidence_status) == ("OK", "success")
    unsure = judge(
        prediction(classes=[{"label": "nok", "class_id": 0, "confidence": 0.45}], task="classify"), rules
    )
    assert (unsure.verdict, unsure.confidence_status) == ("NOK", "rejected")
