"""A segment station's defect rules: measured in px or mm, inside the region of interest, with the failed
rule in words and the confidence the verdict rests on."""

import pytest
from pydantic import ValidationError

from linesight_core.contracts.inference import Prediction
from linesight_gateway.api.station_schemas import StationCreate
from linesight_gateway.domain.defect_rules import DefectRule, _fmt
from linesight_gateway.domain.verdict import StationRules, judge

W, H = 200, 100


def inst(label, conf, polygon, area=None, length=None):
    xs, ys = [p[0] for p in polygon], [p[1] for p in polygon]
    return {
        "label": label,
        "class_id": 0 if label == "crack" else 1,
        "confidence": conf,
        "box": {"x1": min(xs), "y1": min(ys), "x2": max(xs), "y2": max(ys)},
        "polygon": polygon,
        "area_px": area if area is not None else int((max(xs) - min(xs) + 1) * (max(ys) - min(ys) + 1)),
        "length_px": length if length is not None else float(max(max(xs) - min(xs), max(ys) - min(ys))),
    }


def rect(x1, y1, x2, y2):
    return [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]


def prediction(*instances):
    return Prediction.model_validate(
        {
            "model_name": "m",
            "alias": "production",
            "version": 1,
            "sha256": "x" * 64,
            "task": "segment",
            "detections": None,
            "classes": None,
            "instances": list(instances),
            "image": {"width": W, "height": H},
            "batch_size": 1,
            "timings_ms": {"queue": 0, "preprocess": 0, "inference": 0, "postprocess": 0, "total": 0},
        }
    )


def rules(*defect_rules, mm_per_pixel=None, roi=None, low=0.5):
    return StationRules(
        "segment",
        {},
        frozenset(),
        success=0.7,
        low_confidence=low,
        defect_rules=tuple(DefectRule(**r) for r in defect_rules),
        mm_per_pixel=mm_per_pixel,
        roi=tuple(roi) if roi else None,
    )


def test_a_clean_plate_is_ok_and_sure():
    v = judge(prediction(), rules({"label": "crack"}))
    assert (v.verdict, v.confidence, v.failed_rules, v.defects) == ("OK", 1.0, [], [])


def test_a_rule_without_limits_allows_no_instance():
    v = judge(prediction(inst("crack", 0.8, rect(10, 10, 60, 15))), rules({"label": "crack"}))
    assert v.verdict == "NOK" and v.confidence == 0.8
    assert v.failed_rules == [
        {
            "label": "crack",
            "rule": "count",
            "value": 1,
            "limit": 0,
            "unit": None,
            "text": "crack: 1 found > 0 allowed",
        }
    ]


def test_count_allows_up_to_max_count():
    cracks = [inst("crack", c, rect(10 + 40 * i, 10, 40 + 40 * i, 15)) for i, c in enumerate((0.9, 0.7, 0.6))]
    v = judge(prediction(*cracks), rules({"label": "crack", "max_count": 2}))
    assert v.verdict == "NOK" and v.confidence == 0.9
    assert [f["text"] for f in v.failed_rules] == ["crack: 3 found > 2 allowed"]
    assert v.counts == {"crack": 3}
    # The third under the low-confidence threshold does not count: two are allowed.
    v = judge(prediction(*cracks), rules({"label": "crack", "max_count": 2}, low=0.65))
    assert v.verdict == "OK" and v.counts == {"crack": 2}
    assert v.confidence == pytest.approx(0.4)  # 1 - the best sub-threshold defect


def test_length_in_px_and_mm():
    crack = inst("crack", 0.85, rect(10, 10, 82, 14), length=72.0)
    v = judge(prediction(crack), rules({"label": "crack", "max_length": 5, "unit": "mm"}, mm_per_pixel=0.1))
    assert v.verdict == "NOK"
    (failed,) = v.failed_rules
    assert failed["text"] == "crack 7.2 mm > 5 mm"
    assert (failed["rule"], failed["value"], failed["limit"], failed["unit"]) == ("length", 7.2, 5, "mm")
    assert v.defects == [
        {
            "label": "crack",
            "confidence": 0.85,
            "area": pytest.approx(3.65),
            "length": 7.2,
            "unit": "mm",
            "inside_roi": True,
        }
    ]
    assert judge(prediction(crack), rules({"label": "crack", "max_length": 80})).verdict == "OK"
    v = judge(prediction(crack), rules({"label": "crack", "max_length": 70}))
    assert v.failed_rules[0]["text"] == "crack 72 px > 70 px"


def test_largest_area_in_mm2_and_total_area_percent():
    spots = [
        inst("spot", 0.9, rect(10, 10, 29, 29), area=400),
        inst("spot", 0.75, rect(50, 50, 55, 55), area=36),
    ]
    v = judge(
        prediction(*spots), rules({"label": "spot", "max_largest_area": 50, "unit": "mm"}, mm_per_pixel=0.5)
    )
    assert [f["text"] for f in v.failed_rules] == ["spot 100 mm² > 50 mm²"]
    assert v.failed_rules[0]["unit"] == "mm²"
    # (400 + 36) / (200 x 100) = 2.18 % of the photo
    v = judge(prediction(*spots), rules({"label": "spot", "max_total_area_percent": 0.5}))
    assert [f["text"] for f in v.failed_rules] == ["spot 2.18 % of the surface > 0.5 %"]
    assert v.failed_rules[0]["value"] == pytest.approx(2.18)
    assert judge(prediction(*spots), rules({"label": "spot", "max_total_area_percent": 2.5})).verdict == "OK"


def test_the_region_of_interest_clips_and_ignores():
    left_half = [(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]  # x 0..100 px
    crack = inst("crack", 0.9, rect(50, 40, 150, 50), length=100.0)  # half of it inside
    v = judge(prediction(crack), rules({"label": "crack", "max_length": 60}, roi=left_half))
    assert v.verdict == "OK"
    (defect,) = v.defects
    assert defect["inside_roi"] is True
    assert defect["length"] == pytest.approx(50, abs=1.5)
    assert defect["area"] == 51 * 11  # the rasterised outline's pixels from x 50 to 100
    v = judge(prediction(crack), rules({"label": "crack", "max_length": 40}, roi=left_half))
    assert v.verdict == "NOK" and v.failed_rules[0]["value"] == pytest.approx(50, abs=1.5)
    # The share is of the region's area, not the photo's.
    v = judge(prediction(crack), rules({"label": "crack", "max_total_area_percent": 5}, roi=left_half))
    assert v.failed_rules[0]["value"] == pytest.approx(561 / (101 * 100) * 100, rel=1e-3)

    right = inst("crack", 0.95, rect(120, 10, 190, 20))
    doubt = inst("crack", 0.3, rect(130, 60, 190, 70))  # sub-threshold, outside: no doubt either
    v = judge(prediction(right, doubt), rules({"label": "crack"}, roi=left_half))
    assert (v.verdict, v.confidence, v.counts) == ("OK", 1.0, {})
    assert [d["inside_roi"] for d in v.defects] == [False]
    assert v.defects[0]["area"] == right["area_px"]  # outside: its whole size, for the record


def test_other_classes_are_not_defects():
    v = judge(prediction(inst("spot", 0.99, rect(10, 10, 20, 20))), rules({"label": "crack"}))
    assert v.verdict == "OK" and v.defects == [] and v.confidence == 1.0


def test_numbers_are_rounded_for_people():
    assert [_fmt(v) for v in (1520.4, 12.54, 7.2, 5.0, 0.456, 100.0)] == [
        "1520",
        "12.5",
        "7.2",
        "5",
        "0.46",
        "100",
    ]


BASE = {"name": "plates", "mode": "segment", "model_name": "cracks"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"defect_rules": []}, "needs defect_rules"),
        ({"defect_rules": [{"label": "crack", "max_length": 5, "unit": "mm"}]}, "no mm_per_pixel"),
        ({"defect_rules": [{"label": "crack"}, {"label": "crack", "max_count": 1}]}, "may appear once"),
        ({"defect_rules": [{"label": "crack"}], "roi": [(0, 0), (1, 1), (1, 0), (0, 1)]}, "roi: "),
        ({"defect_rules": [{"label": "crack"}], "roi": [(0, 0), (1.5, 0), (1, 1)]}, "outside the image"),
        ({"defect_rules": [{"label": "crack", "max_total_area_percent": 150}]}, "less than or equal to 100"),
    ],
)
def test_bad_segment_stations_are_refused(extra, message):
    with pytest.raises(ValidationError, match=message):
        StationCreate(**BASE, **extra)


def test_a_good_segment_station():
    station = StationCreate(
        **BASE,
        defect_rules=[{"label": "crack", "max_length": 5, "unit": "mm"}, {"label": "spot", "max_count": 2}],
        mm_per_pixel=0.05,
        roi=[(0.1, 0.1), (0.9, 0.1), (0.9, 0.9), (0.1, 0.9)],
    )
    assert station.defect_rules[0].unit == "mm" and station.roi[2] == (0.9, 0.9)
