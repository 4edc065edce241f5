"""The UI's box correction arithmetic: the display scale of the drawing canvas, the way between canvas
and photo pixels, and the boxes refused before anything is sent."""

import math

import pytest

from linesight_ui.boxes import (
    Box,
    canvas_scale,
    check,
    counts,
    from_canvas,
    from_row,
    model_boxes,
    smallest_box,
    to_canvas,
    to_row,
    verdict,
)

CLASSES = ["wrench", "screwdriver", "tape"]


def test_a_large_photo_is_shrunk_to_the_canvas_width_keeping_its_proportions():
    scale = canvas_scale(4000, 3000, max_width=800)
    assert (scale.canvas_width, scale.canvas_height, scale.factor) == (800, 600, 0.2)


def test_a_small_photo_is_shown_at_its_own_size():
    scale = canvas_scale(320, 240, max_width=800)
    assert (scale.canvas_width, scale.canvas_height, scale.factor) == (320, 240, 1.0)


def test_a_photo_without_pixels_has_no_canvas():
    with pytest.raises(ValueError, match="0x240"):
        canvas_scale(0, 240)


def test_a_box_goes_to_the_canvas_and_back_unchanged():
    scale = canvas_scale(4032, 3024, max_width=800)
    box = Box("wrench", 100.0, 250.5, 1400.0, 2000.0)
    drawn = to_canvas(box, scale)
    assert drawn["left"] == pytest.approx(100 * 800 / 4032)
    assert drawn["width"] == pytest.approx(1300 * 800 / 4032)
    assert from_canvas(drawn, scale) == box


def test_a_box_drawn_on_the_canvas_is_scaled_up_to_photo_pixels():
    scale = canvas_scale(1600, 1200, max_width=800)  # half size on screen
    got = from_canvas({"label": "tape", "left": 10, "top": 20, "width": 30, "height": 40}, scale)
    assert got == Box("tape", 20.0, 40.0, 80.0, 120.0)


def test_a_box_dragged_backwards_is_the_same_box():
    scale = canvas_scale(800, 600)
    got = from_canvas({"label": "tape", "left": 50, "top": 60, "width": -30, "height": -40}, scale)
    assert got == Box("tape", 20.0, 20.0, 50.0, 60.0)


def test_a_table_row_and_a_box_are_the_same_thing():
    box = Box("screwdriver", 12.0, 30.0, 52.5, 90.0)
    assert to_row(box) == {"class": "screwdriver", "x": 12.0, "y": 30.0, "w": 40.5, "h": 60.0}
    assert from_row(to_row(box)) == box


def test_good_boxes_pass_and_a_corner_on_the_rounding_edge_is_cut_at_the_photo():
    boxes = [Box("wrench", 0, 0, 10, 10), Box("tape", -0.4, 5, 320.6, 240.0)]
    kept, problems = check(boxes, 320, 240, CLASSES)
    assert problems == []
    assert kept == [Box("wrench", 0, 0, 10, 10), Box("tape", 0.0, 5, 320.0, 240.0)]


def test_a_box_of_zero_size_is_refused():
    kept, problems = check([Box("wrench", 40, 40, 40, 90)], 320, 240, CLASSES)
    assert kept == []
    [problem] = problems
    assert problem.startswith("Box 1 (wrench) is 0x50 pixels: too small")


def test_a_box_outside_the_photo_is_refused():
    boxes = [Box("wrench", 10, 10, 50, 50), Box("tape", 300, 200, 360, 230), Box("tape", -20, 5, 10, 30)]
    kept, problems = check(boxes, 320, 240, CLASSES)
    assert kept == [Box("wrench", 10, 10, 50, 50)]
    assert problems[0].startswith("Box 2 (tape) reaches outside the 320x240 photo (x 300 to 360")
    assert problems[1].startswith("Box 3 (tape) reaches outside")


def test_a_box_of_an_unknown_class_or_none_is_refused():
    kept, problems = check([Box("hammer", 1, 1, 9, 9), Box("", 1, 1, 9, 9)], 320, 240, CLASSES)
    assert kept == []
    assert problems == [
        "Box 1 (hammer): hammer is not a class of the model (screwdriver, tape, wrench).",
        "Box 2 (no class): no class is not a class of the model (screwdriver, tape, wrench).",
    ]


def test_a_table_row_without_numbers_is_refused():
    box = from_row({"class": "wrench", "x": None, "y": 3, "w": 4, "h": 5})
    assert math.isnan(box.x1)
    _, problems = check([box], 320, 240, CLASSES)
    assert problems == ["Box 1 (wrench) has no position: give x, y, w and h as numbers."]


def test_the_model_boxes_start_from_the_detections_that_made_the_answer():
    predictions = [
        {"label": "wrench", "confidence": 0.9, "box": {"x1": 1, "y1": 2, "x2": 30, "y2": 40}},
        {"label": "tape", "confidence": 0.2, "box": {"x1": 5, "y1": 5, "x2": 9, "y2": 9}},
        {"label": "tape", "confidence": 0.5, "box": {"x1": 50, "y1": 60, "x2": 70, "y2": 80}},
    ]
    assert model_boxes(predictions, 0.5) == [
        Box("wrench", 1, 2, 30, 40),
        Box("tape", 50, 60, 70, 80),
    ]


def test_the_verdict_follows_from_the_boxes_as_the_station_judges():
    boxes = [Box("wrench", 0, 0, 5, 5), Box("tape", 0, 0, 5, 5), Box("tape", 5, 5, 9, 9)]
    found = counts(boxes)
    assert found == {"wrench": 1, "tape": 2}
    assert verdict(found, {"wrench": 1, "tape": 2}) == "OK"
    assert verdict(found, {"wrench": 1, "screwdriver": 1}) == "NOK"
    assert verdict({}, {}) == "OK"


def test_a_click_without_a_drag_is_too_small_at_any_display_scale():
    scale = canvas_scale(4000, 3000, max_width=800)  # 0.2: one screen pixel is five photo pixels
    assert smallest_box(scale) == 25.0
    click = from_canvas({"label": "tape", "left": 100, "top": 100, "width": 2, "height": 2}, scale)
    kept, problems = check([click], 4000, 3000, CLASSES, min_size=smallest_box(scale))
    assert kept == [] and problems[0].startswith("Box 1 (tape) is 10x10 pixels: too small")
    assert smallest_box(canvas_scale(320, 240)) == 5.0
