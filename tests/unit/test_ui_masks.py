"""The outline helpers of the segment screens: a segment item's polygons and an inspection's instances in
photo pixels, the masks drawn semi-transparently in their class colour with the region outlined, polygons
read back from the drawing canvas (moved or not), the checks before a correction is sent, YOLO-seg lines,
and the rule and region texts of the Stations, Inspect and History pages."""

import io
import uuid
from datetime import UTC, datetime

import numpy as np
import pytest
from PIL import Image

from linesight_core.contracts.datasets import DatasetItemOut, DatasetStats
from linesight_ui import defect_rules, masks
from linesight_ui.boxes import canvas_scale
from linesight_ui.dataset_views import draw_item, labels_text, segment_stats_table
from linesight_ui.label_drawing import PALETTE

CLASSES = ["crack", "spot"]
SQUARE = ((40.0, 30.0), (120.0, 30.0), (120.0, 90.0), (40.0, 90.0))


def png(width=200, height=120, color=(60, 60, 60)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format="PNG")
    return out.getvalue()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def segment_item(labels, width=200, height=120) -> DatasetItemOut:
    now = datetime.now(UTC)
    return DatasetItemOut.model_validate(
        {
            "id": uuid.uuid4(),
            "dataset": "plates",
            "sha256": "0" * 64,
            "image_key": "images/00/x.png",
            "width": width,
            "height": height,
            "size_bytes": 1,
            "labels": labels,
            "labelled": bool(labels),
            "split": "train",
            "source": "import",
            "origin": "",
            "created_at": now,
            "updated_at": now,
        }
    )


def test_a_segment_item_polygons_come_to_pixels_and_are_drawn_filled_in_their_class_colour():
    item = segment_item([{"class_id": 1, "polygon": [[0.2, 0.25], [0.6, 0.25], [0.6, 0.75], [0.2, 0.75]]}])
    [inst] = masks.item_instances(item, CLASSES, 200, 120)
    assert inst.label == "spot" and inst.polygon == ((40.0, 30.0), (120.0, 30.0), (120.0, 90.0), (40.0, 90.0))
    assert labels_text(item, CLASSES, "segment") == "1 spot"
    assert labels_text(segment_item([]), CLASSES, "segment") == "no outlines"

    drawn = pixels(draw_item(png(), item, CLASSES))
    inside, outside = drawn[60, 80], drawn[110, 180]
    assert list(outside) == [60, 60, 60]  # untouched away from the mask
    red = PALETTE[1]
    # filled, not painted over: between the grey photo and the class colour
    for channel in range(3):
        low, high = sorted((60, red[channel]))
        assert low <= inside[channel] <= high
    assert inside[0] > 100 and inside[1] < 60  # reddish
    assert abs(drawn[60, 40] - np.array(red)).sum() < 40  # the outline in the class colour


def test_inspection_instances_come_from_instances_or_predictions_with_polygons():
    polygon = [[10, 10], [50, 10], [30, 40]]
    found = masks.inspection_instances(
        {"instances": [{"label": "crack", "confidence": 0.9, "polygon": polygon}]}
    )
    assert [(i.label, i.confidence, len(i.polygon)) for i in found] == [("crack", 0.9, 3)]
    from_predictions = masks.inspection_instances(
        {
            "predictions": [
                {"label": "crack", "confidence": 0.8, "polygon": polygon, "box": {}},
                {"label": "spot", "confidence": 0.7, "box": {"x1": 0}},  # no outline: left out
                {"label": "spot", "confidence": 0.7, "polygon": [[1, 1], [2, 2]]},  # two points: left out
            ]
        }
    )
    assert [i.label for i in from_predictions] == ["crack"]
    assert masks.inspection_instances({"predictions": [{"label": "ok", "confidence": 0.9}]}) == []
    unsure = {"instances": [{"label": "crack", "confidence": 0.2, "polygon": polygon}]}
    assert (
        masks.inspection_instances(unsure, masks.low_confidence({"thresholds": {"low_confidence": 0.3}}))
        == []
    )
    assert len(masks.inspection_instances(unsure, masks.low_confidence(None))) == 1
    assert masks.inspection_instances({}) == []


def test_draw_masks_scales_original_pixels_to_a_smaller_photo_and_outlines_the_roi():
    # the polygon in a 400x240 original, drawn on its 200x120 copy
    inst = masks.Instance("crack", tuple((x * 2, y * 2) for x, y in SQUARE), 0.91)
    roi = masks.roi_points([[0.05, 0.05], [0.95, 0.05], [0.95, 0.95], [0.05, 0.95]], 400, 240)
    drawn = pixels(masks.draw_masks(png(), [inst], CLASSES, roi=roi, source_size=(400, 240)))
    assert drawn[60, 80][2] > drawn[60, 80][0]  # blue-ish crack fill inside the square (canvas pixels)
    assert list(drawn[100, 150]) == [60, 60, 60]
    assert abs(drawn[60, 10] - np.array(masks.ROI_COLOR)).sum() < 60  # the ROI's left edge at x=10


def test_a_polygon_from_the_canvas_comes_back_in_photo_pixels_moved_or_not():
    scale = canvas_scale(1600, 1200)  # shown at half size
    drawn = {"type": "Polygon", "points": [{"x": 100, "y": 100}, {"x": 200, "y": 100}, {"x": 150, "y": 180}]}
    assert masks.from_canvas(drawn, scale) == ((200.0, 200.0), (400.0, 200.0), (300.0, 360.0))
    # as Fabric keeps it once moved 30 px right: left/top moved, points unchanged
    moved = drawn | {"left": 99 + 30, "top": 99, "width": 100, "height": 80, "strokeWidth": 2}
    assert masks.from_canvas(moved, scale) == ((260.0, 200.0), (460.0, 200.0), (360.0, 360.0))
    canvas = {"objects": [drawn, {"type": "LabeledRect", "left": 1}, {"type": "polygon", "points": []}]}
    assert len(masks.canvas_polygons(canvas, scale)) == 2


def test_instances_are_checked_before_they_are_sent_and_become_yolo_segment_lines():
    good = masks.Instance("crack", SQUARE)
    line = masks.Instance("crack", ((0.0, 0.0), (10.0, 10.0), (20.0, 20.0)))
    outside = masks.Instance("spot", ((0.0, 0.0), (500.0, 0.0), (0.0, 50.0)))
    unknown = masks.Instance("dent", SQUARE)
    edge = masks.Instance("spot", ((-0.5, 0.0), (200.4, 0.0), (100.0, 120.0)))
    kept, problems = masks.check_instances([good, line, outside, unknown, edge], 200, 120, CLASSES)
    assert [k.label for k in kept] == ["crack", "spot"] and kept[1].polygon[0] == (0.0, 0.0)
    assert len(problems) == 3
    assert "no area" in problems[0] and "outside the 200x120 photo" in problems[1] and "dent" in problems[2]
    assert masks.yolo_segment_lines([good], 200, 120, CLASSES) == (
        "0 0.200000 0.250000 0.600000 0.250000 0.600000 0.750000 0.200000 0.750000"
    )
    assert good.body() == {
        "label": "crack",
        "polygon": [[40.0, 30.0], [120.0, 30.0], [120.0, 90.0], [40.0, 90.0]],
    }
    assert masks.polygon_area(SQUARE) == pytest.approx(4800)


def test_segment_stats_give_instances_and_mask_area_per_class():
    stats = DatasetStats.model_validate(
        {
            "dataset": "plates",
            "task": "segment",
            "items": 3,
            "images_per_split": {"train": 3},
            "instances_per_class": {"crack": 4},
            "images_without_labels": 1,
            "images_per_source": {"import": 3},
            "mask_area_px_per_class": {"crack": 1234.4},
            "mask_share_per_class": {"crack": 0.01234, "spot": None},
        }
    )
    table = segment_stats_table(stats, CLASSES)
    assert table[["class", "instances", "mask area (px)"]].to_dict("records") == [
        {"class": "crack", "instances": 4, "mask area (px)": 1234},
        {"class": "spot", "instances": 0, "mask area (px)": 0},
    ]
    assert table["mean share of the image"][0] == pytest.approx(0.0123)
    assert table["mean share of the image"].isna().tolist() == [False, True]


def test_defect_rules_round_trip_through_the_editor_rows():
    rules = [{"label": "crack", "max_length": 5.0, "unit": "mm", "max_count": 2}]
    rows = defect_rules.rules_rows(rules, CLASSES)
    assert list(rows["class"]) == ["crack", "spot"] and list(rows["defect"]) == [True, False]
    body = defect_rules.rules_body(rows.to_dict("records"))
    assert body == [
        {
            "label": "crack",
            "max_count": 2,
            "max_largest_area": None,
            "max_total_area_percent": None,
            "max_length": 5.0,
            "unit": "mm",
        }
    ]  # spot is no defect
    ticked = rows.assign(defect=True).to_dict("records")
    assert defect_rules.rules_body(ticked)[1] == {
        "label": "spot",
        "max_count": None,
        "max_largest_area": None,
        "max_total_area_percent": None,
        "max_length": None,
        "unit": "px",
    }  # a defect with no limit: the gateway allows none of it
    assert defect_rules.rules_problems(body, None) == ["crack: limits in mm need the station's mm per pixel."]
    assert defect_rules.rules_problems(body, 0.1) == []
    assert defect_rules.rules_problems([{**body[0], "max_total_area_percent": 150.0}], 0.1)
    assert "above 0" in defect_rules.rules_problems([{**body[0], "max_length": 0.0}], 0.1)[0]
    assert defect_rules.rules_problems([{**body[0], "max_count": 0}], 0.1) == []


def test_a_region_is_typed_as_points_and_refused_in_words():
    assert defect_rules.parse_roi("") == (None, [])
    points, problems = defect_rules.parse_roi("0.1,0.1; 0.9,0.1; 0.9 0.9;0.1,0.9")
    assert problems == [] and points == [[0.1, 0.1], [0.9, 0.1], [0.9, 0.9], [0.1, 0.9]]
    assert defect_rules.roi_text(points) == "0.1,0.1; 0.9,0.1; 0.9,0.9; 0.1,0.9"
    assert defect_rules.parse_roi("0.1,0.1; 0.9,0.1")[1] == ["A region needs at least three points; 2 given."]
    _, problems = defect_rules.parse_roi("0.1,0.1; 1.5,0.1; x; 0.2,0.2")
    assert problems == [
        "Point 2 (1.5,0.1) lies outside the photo: x and y go from 0 to 1.",
        "Point 3 ('x') is not `x,y`.",
    ]


def test_failed_rules_and_defects_are_said_in_words_and_a_table():
    inspection = {
        "failed_rules": [
            {
                "label": "crack",
                "rule": "max_length",
                "value": 7.2,
                "limit": 5,
                "unit": "mm",
                "text": "crack 7.2 mm > 5 mm",
            },
            {"label": "spot", "rule": "max_count", "value": 3, "limit": 2, "unit": ""},
        ],
        "defects": [
            {
                "label": "crack",
                "confidence": 0.9,
                "area": 12.5,
                "length": 7.2,
                "unit": "mm",
                "inside_roi": True,
            },
            {
                "label": "spot",
                "confidence": 0.6,
                "area": 3.0,
                "length": 1.0,
                "unit": "mm",
                "inside_roi": False,
            },
        ],
    }
    assert defect_rules.failed_rule_texts(inspection) == ["crack 7.2 mm > 5 mm", "spot max_count: 3 > 2"]
    table = defect_rules.defects_table(inspection)
    assert list(table["inside the region"]) == ["yes", "no: ignored"]
    assert defect_rules.failed_rule_texts({}) == [] and defect_rules.defects_table({}).empty
