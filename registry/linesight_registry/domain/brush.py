"""Label Studio brush masks: its RLE decoded (the bit-packed run-length format of thi.ng's rle-pack that
Label Studio writes for a brush layer: the RGBA pixels of the image, 4 values a pixel) and traced into
the polygons a segment dataset stores, one per region of the mask."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from linesight_core import polygons

# A real mask takes a few runs per row; a stream of more runs than this is refused before it costs time.
MAX_RUNS = 8_000_000
HEADER_BITS = 32 + 5 + 4 * 4
# Douglas-Peucker tolerance of a traced outline, in pixels of the image: the staircase of pixel steps
# goes, a hair crack keeps its shape.
SIMPLIFY_PX = 0.5


class BrushError(ValueError):
    pass


class _Bits:
    def __init__(self, data: bytes) -> None:
        self.bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        self.text = (self.bits + ord("0")).tobytes().decode("ascii")
        self.pos = 0

    def left(self) -> int:
        return len(self.bits) - self.pos

    def read(self, n: int) -> int:
        if self.left() < n:
            raise BrushError("the brush RLE ends in the middle of a run")
        value = int(self.text[self.pos : self.pos + n], 2)
        self.pos += n
        return value

    def words(self, count: int, size: int) -> np.ndarray:
        if self.left() < count * size:
            raise BrushError("the brush RLE ends in the middle of a run")
        chunk = self.bits[self.pos : self.pos + count * size].reshape(count, size).astype(np.uint64)
        self.pos += count * size
        return chunk @ (np.uint64(1) << np.arange(size - 1, -1, -1, dtype=np.uint64))


def decode_alpha(rle: Sequence[int], width: int, height: int) -> np.ndarray:
    """The brush layer's alpha channel as a (height, width) bool mask (alpha above 0, as Label Studio's own
    converter reads it). Raises BrushError when the RLE is not one of an image of this size."""
    if not isinstance(rle, list) or not all(isinstance(v, int) and 0 <= v <= 255 for v in rle):
        raise BrushError("the brush RLE must be a list of bytes (integers 0 to 255)")
    if len(rle) * 8 < HEADER_BITS:
        raise BrushError("the brush RLE is too short to hold its header")
    bits = _Bits(bytes(rle))
    num = bits.read(32)
    if num != width * height * 4:
        raise BrushError(
            f"the brush mask is of the wrong size: it holds {num} values, and a {width}x{height} image "
            f"needs {width * height * 4} (4 a pixel)"
        )
    word = bits.read(5) + 1
    run_bits = [bits.read(4) + 1 for _ in range(4)]
    alpha = np.zeros(width * height, dtype=bool)
    i = runs = 0
    while i < num:
        runs += 1
        if runs > MAX_RUNS:
            raise BrushError(f"the brush RLE has more than {MAX_RUNS} runs")
        repeat = bits.read(1)
        j = i + 1 + bits.read(run_bits[bits.read(2)])
        if j > num:
            raise BrushError("a run of the brush RLE goes past the end of the image")
        first = i + (3 - i) % 4  # the first alpha value (every 4th, from index 3) in [i, j)
        if repeat:
            if bits.read(word) and first < j:
                alpha[(first - 3) // 4 : (j - 4) // 4 + 1] = True
        else:
            values = bits.words(j - i, word)
            if first < j:
                alpha[(first - 3) // 4 : (j - 4) // 4 + 1] = values[first - i :: 4] > 0
        i = j
    return alpha.reshape(height, width)


def _bridge_diagonals(mask: np.ndarray) -> np.ndarray:
    """The mask at twice its size, with every pair of pixels that touch only at a corner joined by a
    small square: traced at this size, no outline passes one point twice, and a crack one pixel wide
    keeps an area instead of folding into a line."""
    big = np.kron(mask, np.ones((2, 2), dtype=np.uint8)).astype(np.uint8)
    a, b, c, d = mask[:-1, :-1], mask[:-1, 1:], mask[1:, :-1], mask[1:, 1:]
    rows, cols = np.nonzero((a & d & ~b & ~c) | (b & c & ~a & ~d))
    for r, col in zip(rows.tolist(), cols.tolist(), strict=True):
        big[2 * r + 1 : 2 * r + 3, 2 * col + 1 : 2 * col + 3] = 1
    return big


def _normalised(contour: np.ndarray, width: int, height: int) -> list[tuple[float, float]]:
    # A pixel at twice the size has its centre at (u - 0.5) / 2 in pixels of the image, where pixel k's
    # centre is k: Ultralytics' convention (x_px = x * width).
    pts = (contour.reshape(-1, 2).astype(np.float64) - 0.5) / 2
    pts = np.clip(pts / (width, height), 0.0, 1.0)
    return polygons.normalised(pts.tolist())


def mask_polygons(mask: np.ndarray) -> tuple[list[list[tuple[float, float]]], int]:
    """One normalised polygon for each region of the mask, a region inside another's hole included (the
    holes are not kept: a YOLO polygon has none),
    and the number of regions too small to be a polygon (under half a pixel of area), left out. Raises
    BrushError for a region that cannot be traced into a polygon the dataset accepts."""
    height, width = mask.shape
    big = _bridge_diagonals(mask.astype(bool))
    # Two levels: outer outlines and holes; a region inside a hole is an outer outline again.
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    outer = [
        c for c, h in zip(contours, hierarchy[0] if hierarchy is not None else [], strict=True) if h[3] < 0
    ]
    out: list[list[tuple[float, float]]] = []
    dropped = 0
    for contour in outer:
        traced = _normalised(contour, width, height)
        if polygons.area(traced) * width * height < polygons.MIN_AREA_PX:
            dropped += 1
            continue
        simple = _normalised(cv2.approxPolyDP(contour, 2 * SIMPLIFY_PX, True), width, height)
        problem = polygons.polygon_problem(simple, width, height)
        if problem:  # simplifying spoilt it: the outline as traced
            problem = polygons.polygon_problem(traced, width, height)
            simple = traced
        if problem:
            x, y = (contour.reshape(-1, 2).min(axis=0) // 2).tolist()
            raise BrushError(f"the mask's region at ({x}, {y}) px cannot be stored as a polygon: {problem}")
        out.append(simple)
    return out, dropped
