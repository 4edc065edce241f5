"""The segment decoding's geometry on hand-made head outputs: a mask drawn in prototype cells lands on the
right pixels of the original photo through the letterbox (padding undone), is cut to its box, and an empty
one is dropped; an instance's polygon, area and length describe its mask."""

import cv2
import numpy as np
import pytest

from linesight_inference.domain.masks import InstanceMask, decode_segment, describe
from linesight_inference.domain.yolo import letterbox

pytestmark = pytest.mark.unit


def rect_iou(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> float:
    ideal = np.zeros_like(mask)
    ideal[y0:y1, x0:x1] = 1
    union = np.logical_or(mask, ideal).sum()
    return float(np.logical_and(mask, ideal).sum() / union)


def head_outputs(coef: float, end2end: bool):
    """A 200x100 photo letterboxed into 64x64 (gain 0.32, 16 px of padding above and below): 16x16
    prototype cells of 4 input pixels. The one prototype is positive on cells x 4..12, y 6..10, which
    is input x 16..48, y 24..40, which is the photo's x 50..150, y 25..75."""
    _, lb = letterbox(np.zeros((100, 200, 3), np.uint8), (64, 64))
    assert (lb.pad_x, lb.pad_y, lb.gain_x) == (0, 16, 0.32)
    protos = np.full((1, 16, 16), -10.0, np.float32)
    protos[0, 6:10, 4:12] = 10.0
    if end2end:  # rows of (x1, y1, x2, y2, conf, cls, coefficients)
        output = np.array([[12, 20, 52, 44, 0.9, 0, coef], [0, 0, 8, 8, 0.1, 0, coef]], np.float32)
    else:  # (4 + nc + nm, anchors): cx, cy, w, h, one class score, one coefficient
        output = np.array([[32, 4], [32, 4], [40, 8], [24, 8], [0.9, 0.1], [coef, coef]], np.float32)
    return output, protos, lb


@pytest.mark.parametrize("end2end", [False, True], ids=["nms", "end2end"])
def test_a_mask_lands_on_the_photos_pixels_through_the_letterbox(end2end):
    output, protos, lb = head_outputs(1.0, end2end)
    det, masks = decode_segment(
        output, protos, lb, (64, 64), conf_thres=0.25, iou_thres=0.7, max_det=300, end2end=end2end
    )
    assert len(det) == len(masks) == 1  # the 0.1 anchor is under the confidence threshold
    np.testing.assert_allclose(det[0, :4], [37.5, 12.5, 162.5, 87.5], atol=1e-3)
    assert (masks[0].x0, masks[0].y0) == (38, 13)  # pixels x1 <= c < x2, y1 <= r < y2
    assert masks[0].mask.shape == (75, 125)
    full = masks[0].full(200, 100)
    assert rect_iou(full, 50, 25, 150, 75) >= 0.97


def test_a_box_whose_mask_is_empty_is_dropped():
    output, protos, lb = head_outputs(0.0, False)  # every logit 0: sigmoid 0.5, not over the threshold
    det, masks = decode_segment(output, protos, lb, (64, 64), conf_thres=0.25, iou_thres=0.7, max_det=300)
    assert len(det) == len(masks) == 0


def test_polygon_area_and_length_describe_a_thin_rotated_scratch():
    canvas = np.zeros((300, 400), np.uint8)
    corners = cv2.boxPoints(((200, 150), (160, 8), 30)).astype(np.int32)
    cv2.fillPoly(canvas, [corners], 1)
    ys, xs = np.nonzero(canvas)
    x0, y0 = int(xs.min()), int(ys.min())
    crop = canvas[y0 : ys.max() + 1, x0 : xs.max() + 1]
    shape = describe(InstanceMask(x0, y0, crop))
    assert shape.area_px == int(canvas.sum())
    assert abs(shape.length_px - 160) <= 3
    assert 4 <= len(shape.polygon) <= 8  # simplified: a rectangle keeps about its corners
    outline = np.zeros_like(canvas)
    cv2.fillPoly(outline, [np.round(np.array(shape.polygon)).astype(np.int32)], 1)
    assert np.logical_and(outline, canvas).sum() / np.logical_or(outline, canvas).sum() >= 0.85


def test_the_polygon_is_the_largest_region_and_the_area_counts_every_region():
    mask = np.zeros((50, 120), np.uint8)
    mask[10:20, 5:25] = 1  # 200 px
    mask[10:40, 60:110] = 1  # 1500 px, the largest
    shape = describe(InstanceMask(100, 200, mask))
    assert shape.area_px == 1700
    xs = [x for x, _ in shape.polygon]
    assert min(xs) >= 160 and max(xs) <= 210  # the large region, in the photo's pixels
    assert abs(shape.length_px - 49) <= 1  # its longer side, from pixel centre to pixel centre
