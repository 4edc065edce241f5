"""Polygons of YOLO segmentation labels (normalised to the image, 0..1): the rules a stored polygon
follows (at least three points, every vertex inside the image, a real area, no edge crossing or touching
another) and its area. Shared by the registry's datasets and the gateway's mask corrections."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

MIN_POINTS = 3
# A polygon with more vertices is refused: the crossing test is quadratic in the worst case.
MAX_POINTS = 4096
# Stored labels are rounded like YOLO text files; the checks run on exactly those values, as integers.
DECIMALS = 6
_SCALE = 10**DECIMALS
# Less than this, in pixels of the image, is no shape: a line, a point, or points on one line.
MIN_AREA_PX = 0.5
_PAIRS_PER_BLOCK = 1 << 18


def normalised(points: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
    """Rounded to the stored decimals, with repeated consecutive points and a closing copy of the first
    point dropped (both are common in exported polygons and change nothing)."""
    out: list[tuple[float, float]] = []
    for x, y in points:
        p = (round(float(x), DECIMALS), round(float(y), DECIMALS))
        if not out or out[-1] != p:
            out.append(p)
    while len(out) > 1 and out[-1] == out[0]:
        out.pop()
    return out


def area(points: Sequence[tuple[float, float]]) -> float:
    """The enclosed area as a share of the image (shoelace formula)."""
    if len(points) < 3:
        return 0.0
    p = np.asarray(points, dtype=np.float64)
    x, y = p[:, 0], p[:, 1]
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def polygon_problem(
    points: Sequence[tuple[float, float]], width: int | None = None, height: int | None = None
) -> str | None:
    """What is wrong with a polygon of `normalised` points, or None. With the image size the smallest
    area is counted in pixels; without it only an exactly zero area is refused."""
    if len(points) < MIN_POINTS:
        return f"a polygon needs at least {MIN_POINTS} distinct points; got {len(points)}"
    if len(points) > MAX_POINTS:
        return f"a polygon may have at most {MAX_POINTS} points; got {len(points)}"
    for i, (x, y) in enumerate(points):
        if not (math.isfinite(x) and math.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            return (
                f"point {i} ({x}, {y}) is outside the image (coordinates are normalised to the image, 0 to 1)"
            )
    ints = np.rint(np.asarray(points, dtype=np.float64) * _SCALE).astype(np.int64)
    crossing = _crossing(ints)
    if crossing:
        return crossing
    twice_area = abs(int(_cross_sum(ints)))
    if width and height:
        px = twice_area / 2 / _SCALE**2 * width * height
        if px < MIN_AREA_PX:
            return f"the polygon is degenerate: it encloses {px:.2g} px², less than half a pixel"
    elif twice_area == 0:
        return "the polygon is degenerate: its points lie on one line (zero area)"
    return None


def _cross_sum(p: np.ndarray) -> np.int64:
    q = np.roll(p, -1, axis=0)
    return np.sum(p[:, 0] * q[:, 1] - p[:, 1] * q[:, 0])


def _orient(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Sign of the turn a → b → c (exact: the coordinates are integers below 10^6)."""
    return np.sign((b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0]))


def _within(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """c inside the bounding box of segment a-b (for c on the line through a and b: on the segment)."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.all((lo <= c) & (c <= hi), axis=1)


def _near_pairs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every pair of edges whose bounding boxes meet, each once: edges sorted by their left end, an edge
    meets along x exactly the run of later edges that start before its right end."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    order = np.argsort(lo[:, 0], kind="stable")
    starts = lo[order, 0]
    ends = np.searchsorted(starts, hi[order, 0], side="right")
    counts = ends - np.arange(len(order)) - 1
    first = np.repeat(np.arange(len(order)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    second = first + 1 + offsets
    i, j = order[first], order[second]
    meet_y = (lo[i, 1] <= hi[j, 1]) & (lo[j, 1] <= hi[i, 1])
    return i[meet_y], j[meet_y]


def _crossing(p: np.ndarray) -> str | None:
    """Two edges that are not neighbours cross or touch."""
    n = len(p)
    a, b = p, np.roll(p, -1, axis=0)  # edge i runs from point i to point i + 1
    i, j = _near_pairs(a, b)
    # Neighbours (and the first edge with the last) share a point by construction. One that runs back
    # along the other still shows: its far end touches an edge that is not its neighbour (or, in a
    # triangle, the area is zero).
    far = (np.abs(i - j) > 1) & ~((np.minimum(i, j) == 0) & (np.maximum(i, j) == n - 1))
    i, j = i[far], j[far]
    for start in range(0, len(i), _PAIRS_PER_BLOCK):
        bi, bj = i[start : start + _PAIRS_PER_BLOCK], j[start : start + _PAIRS_PER_BLOCK]
        d1, d2 = _orient(a[bi], b[bi], a[bj]), _orient(a[bi], b[bi], b[bj])
        d3, d4 = _orient(a[bj], b[bj], a[bi]), _orient(a[bj], b[bj], b[bi])
        hit = ((d1 * d2 < 0) & (d3 * d4 < 0)) | (
            ((d1 == 0) & _within(a[bi], b[bi], a[bj]))
            | ((d2 == 0) & _within(a[bi], b[bi], b[bj]))
            | ((d3 == 0) & _within(a[bj], b[bj], a[bi]))
            | ((d4 == 0) & _within(a[bj], b[bj], b[bi]))
        )
        found = np.nonzero(hit)[0]
        if len(found):
            e, f = sorted((int(bi[found[0]]), int(bj[found[0]])))
            return f"the polygon crosses itself: edge {e}-{(e + 1) % n} meets edge {f}-{(f + 1) % n}"
    return None
