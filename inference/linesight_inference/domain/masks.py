"""The masks of a YOLO segment head in numpy/OpenCV, written to match Ultralytics' `predict` with
`retina_masks=True`: boxes and mask coefficients through the same NMS as detect, prototypes x
coefficients, the mask upsampled to the original image (the letterbox undone), thresholded at 0.5 and
cut to its box; then the instance's outline (simplified polygon), area and length."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from linesight_core.mask_shapes import largest_region, region_length
from linesight_inference.domain.yolo import Letterbox, boxes_to_original, select_boxes

# Douglas-Peucker tolerance of the returned outline: a fraction of the outline's perimeter, at least a
# pixel (a hair crack keeps its shape, a large blob loses its staircase of pixel steps).
SIMPLIFY_FRACTION = 0.005


@dataclass(frozen=True)
class InstanceMask:
    """An instance's mask over its box: `mask[r, c]` is pixel (x0 + c, y0 + r) of the original image."""

    x0: int
    y0: int
    mask: np.ndarray  # uint8, 1 inside

    def full(self, width: int, height: int) -> np.ndarray:
        """The mask on the whole image (for tests and drawing)."""
        out = np.zeros((height, width), dtype=np.uint8)
        h, w = self.mask.shape
        out[self.y0 : self.y0 + h, self.x0 : self.x0 + w] = self.mask
        return out


@dataclass(frozen=True)
class InstanceShape:
    """What the API answers about a mask, in original image pixels."""

    polygon: list[tuple[float, float]]
    area_px: int
    length_px: float


def decode_segment(
    output: np.ndarray,
    protos: np.ndarray,
    lb: Letterbox,
    input_size: tuple[int, int],
    *,
    conf_thres: float,
    iou_thres: float,
    max_det: int,
    end2end: bool = False,
) -> tuple[np.ndarray, list[InstanceMask]]:
    """One image's two outputs (the head [4+nc+nm, anchors] or end-to-end [detections, 6+nm], and the
    prototypes [nm, h, w]) for a network input of `input_size` (height, width) → rows (x1, y1, x2, y2,
    conf, cls) in original image pixels, and their masks. An instance whose mask is empty inside its box
    is dropped, as Ultralytics drops it."""
    nm, mh, mw = protos.shape
    nc = output.shape[0] - 4 - nm
    rows = select_boxes(
        output, nc=nc, conf_thres=conf_thres, iou_thres=iou_thres, max_det=max_det, end2end=end2end
    )
    det = boxes_to_original(rows[:, :6], lb)
    if not len(det):
        return det, []
    logits = (rows[:, 6 : 6 + nm] @ protos.reshape(nm, -1).astype(np.float32)).reshape(-1, mh, mw)
    # A prototype cell covers sx (sy) network input pixels a side; an original pixel's centre (x + 0.5)
    # sits at (x + 0.5) * gain + pad in the input, hence at that / sx - 0.5 in prototype cells. One
    # bilinear warp from the cells to the box's pixels: no full-image mask is ever made.
    in_h, in_w = input_size
    sx, sy = in_w / mw, in_h / mh
    ax, ay = lb.gain_x / sx, lb.gain_y / sy
    bx, by = (0.5 * lb.gain_x + lb.pad_x) / sx - 0.5, (0.5 * lb.gain_y + lb.pad_y) / sy - 0.5
    kept: list[int] = []
    masks: list[InstanceMask] = []
    for i, (x1, y1, x2, y2) in enumerate(det[:, :4].tolist()):
        # Ultralytics keeps pixel r when x1 <= r < x2: columns ceil(x1) .. ceil(x2) - 1
        c0, c1 = min(math.ceil(x1), lb.orig_w), min(math.ceil(x2), lb.orig_w)
        r0, r1 = min(math.ceil(y1), lb.orig_h), min(math.ceil(y2), lb.orig_h)
        if c1 <= c0 or r1 <= r0:
            continue
        warp = np.array([[ax, 0.0, ax * c0 + bx], [0.0, ay, ay * r0 + by]], dtype=np.float64)
        up = cv2.warpAffine(
            logits[i],
            warp,
            (c1 - c0, r1 - r0),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REPLICATE,
        )
        mask = (up > 0).view(np.uint8)  # sigmoid(logit) > 0.5 exactly when logit > 0
        if not mask.any():
            continue
        kept.append(i)
        masks.append(InstanceMask(c0, r0, mask))
    return det[kept], masks


def describe(instance: InstanceMask) -> InstanceShape:
    """The outline of the mask's largest region (simplified), the mask's area (every region) and the
    longest side of the smallest rotated rectangle around that region, all in original image pixels."""
    mask = instance.mask
    area = int(np.count_nonzero(mask))
    largest = largest_region(mask)
    if largest is None:
        return InstanceShape([], area, 0.0)
    epsilon = max(1.0, SIMPLIFY_FRACTION * cv2.arcLength(largest, True))
    outline = cv2.approxPolyDP(largest, epsilon, True).reshape(-1, 2).astype(np.float64)
    outline += (instance.x0, instance.y0)
    return InstanceShape([(float(x), float(y)) for x, y in outline], area, region_length(largest))
