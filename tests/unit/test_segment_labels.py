"""Polygon labels: the geometry rules (points, inside the image, area, no crossing) against a plain
pairwise check, and Label Studio brush masks decoded and traced into polygons those rules accept."""

import random

import cv2
import numpy as np
import pytest

from linesight_core import polygons
from linesight_registry.domain.brush import BrushError, decode_alpha, mask_polygons
from tests.support.labelstudio_brush import brush_rle, encode_rle


def _touch(a, b, c, d) -> bool:
    """Closed segments a-b and c-d share a point (plain, one pair at a time)."""

    def orient(p, q, r):
        v = (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])
        return (v > 0) - (v < 0)

    def on(p, q, r):
        return min(p[0], q[0]) <= r[0] <= max(p[0], q[0]) and min(p[1], q[1]) <= r[1] <= max(p[1], q[1])

    d1, d2, d3, d4 = orient(a, b, c), orient(a, b, d), orient(c, d, a), orient(c, d, b)
    if d1 * d2 < 0 and d3 * d4 < 0:
        return True
    return any(
        o == 0 and on(p, q, r) for o, p, q, r in ((d1, a, b, c), (d2, a, b, d), (d3, c, d, a), (d4, c, d, b))
    )


def _crosses(points) -> bool:
    n = len(points)
    ints = [(round(x * 10**6), round(y * 10**6)) for x, y in points]
    edges = [(ints[i], ints[(i + 1) % n]) for i in range(n)]
    return any(
        _touch(*edges[i], *edges[j]) for i in range(n) for j in range(i + 2, n) if not (i == 0 and j == n - 1)
    )


def test_crossings_are_found_exactly_as_a_pairwise_check_finds_them():
    rng = random.Random(3)
    crossed = 0
    for _ in range(600):
        points = polygons.normalised(
            [(rng.randint(0, 6) / 6, rng.randint(0, 6) / 6) for _ in range(rng.randint(3, 12))]
        )
        if len(points) < 3:
            continue
        problem = polygons.polygon_problem(points)
        if _crosses(points):
            crossed += 1
            assert problem and "crosses itself" in problem, points
        else:
            assert problem is None or "crosses" not in problem, (points, problem)
    assert crossed > 100


@pytest.mark.parametrize(
    ("points", "words"),
    [
        ([(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.5)], None),
        ([(0.1, 0.1), (0.6, 0.5), (0.5, 0.1), (0.1, 0.5)], "crosses itself"),
        ([(0.1, 0.1), (0.2, 0.2), (0.3, 0.3)], "degenerate"),
        ([(0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.5, 0.3)], "crosses itself"),  # runs back along an edge
        ([(0.1, 0.1), (0.5, 0.1), (0.3, 0.1)], "degenerate"),
        ([(0.1, 0.1), (0.5, 0.1)], "at least 3"),
        ([(0.1, 0.1), (0.5, 0.1), (0.5, 1.01)], "outside the image"),
        ([(0.1, 0.1), (0.5, 0.1), (0.5, float("nan"))], "outside the image"),
    ],
)
def test_polygon_rules(points, words):
    problem = polygons.polygon_problem(polygons.normalised(points), 640, 480)
    assert problem is None if words is None else words in problem


def test_the_smallest_area_is_counted_in_pixels_of_the_image():
    sliver = polygons.normalised([(0.1, 0.1), (0.9, 0.1), (0.9, 0.1005)])  # 0.0002 of the image
    assert polygons.polygon_problem(sliver, 2000, 2000) is None  # 800 px²
    assert "less than half a pixel" in polygons.polygon_problem(sliver, 40, 40)  # 0.3 px²
    assert polygons.normalised([(0.1, 0.1), (0.1, 0.1), (0.5, 0.1), (0.5, 0.5), (0.1, 0.1)]) == [
        (0.1, 0.1),
        (0.5, 0.1),
        (0.5, 0.5),
    ]


def test_a_long_outline_is_checked_quickly_enough_to_import():
    t = np.linspace(0, 2 * np.pi, polygons.MAX_POINTS, endpoint=False)
    circle = polygons.normalised(list(zip(0.5 + 0.4 * np.cos(t), 0.5 + 0.4 * np.sin(t), strict=True)))
    assert polygons.polygon_problem(circle, 4000, 3000) is None
    twisted = circle[:100] + circle[200:99:-1] + circle[201:]
    assert "crosses itself" in polygons.polygon_problem(twisted, 4000, 3000)


def test_brush_masks_decode_to_their_alpha_channel_whatever_the_colours():
    rng = np.random.default_rng(5)
    for _ in range(20):
        h, w = rng.integers(3, 50, 2)
        mask = rng.random((h, w)) > 0.6
        assert (decode_alpha(brush_rle(mask), w, h) == mask).all()
        # Anti-aliased edges: any alpha above 0 is inside, as Label Studio's own converter reads it.
        rgba = rng.integers(0, 256, (h * w, 4)).astype(np.uint8)
        rgba[:, 3] = np.where(mask.ravel(), rng.integers(1, 256, h * w), 0)
        assert (decode_alpha(encode_rle(rgba.ravel()), w, h) == mask).all()
    mask = np.ones((4, 5), bool)
    with pytest.raises(BrushError, match="wrong size"):
        decode_alpha(brush_rle(mask), 4, 5 + 1)
    with pytest.raises(BrushError, match="list of bytes"):
        decode_alpha([0, 300], 5, 4)
    with pytest.raises(BrushError, match="ends in the middle"):
        decode_alpha(brush_rle(mask)[:8], 5, 4)


def test_every_region_of_a_noisy_mask_becomes_a_valid_polygon_or_is_too_small():
    rng = np.random.default_rng(7)
    for _ in range(60):
        h, w = rng.integers(10, 60, 2)
        mask = (rng.random((h, w)) > rng.uniform(0.4, 0.8)).astype(np.uint8)
        found, dropped = mask_polygons(mask)
        regions = cv2.connectedComponents(mask, connectivity=8)[0] - 1
        assert len(found) + dropped == regions
        for p in found:
            assert polygons.polygon_problem(p, w, h) is None


def test_a_large_brush_mask_becomes_one_close_outline():
    mask = np.zeros((600, 800), np.uint8)
    cv2.ellipse(mask, (400, 300), (250, 150), 30, 0, 360, 1, -1)
    # Colours as Label Studio draws: the label's colour on a transparent black layer.
    found, dropped = mask_polygons(decode_alpha(brush_rle(mask, (255, 0, 0), (0, 0, 0)), 800, 600))
    # The outline is about 1270 px long: the staircase of pixel steps is simplified away.
    assert dropped == 0 and len(found) == 1 and len(found[0]) < 500
    back = np.zeros_like(mask)
    cv2.fillPoly(back, [np.rint(np.array(found[0]) * (800, 600)).astype(np.int32)], 1)
    assert (back & mask).sum() / (back | mask).sum() > 0.995
