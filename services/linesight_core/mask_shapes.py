"""The size of a binary mask as LineSight reports it: its largest region and that region's length (the
longest side of the smallest rotated rectangle around it). Shared by the inference service (a model's
masks) and the gateway (a defect's part inside a station's region of interest)."""

from __future__ import annotations

import cv2
import numpy as np


def largest_region(mask: np.ndarray) -> np.ndarray | None:
    """The outer contour (N x 1 x 2, int32) of the mask's largest region, or None for an empty mask."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    return max(contours, key=lambda c: (cv2.contourArea(c), len(c)))


def region_length(contour: np.ndarray) -> float:
    """The longest side of the smallest rotated rectangle around a contour, in its pixels."""
    (_, _), (w, h), _ = cv2.minAreaRect(contour)
    return float(max(w, h))


def mask_length(mask: np.ndarray) -> float:
    """The length of a mask's largest region (0 for an empty mask)."""
    largest = largest_region(mask)
    return 0.0 if largest is None else region_length(largest)
