"""An inspection photo with its detections drawn on it (boxes, labels, confidences)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from PIL import Image

PALETTE = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]


def annotate(image: Image.Image, detections: list[dict[str, Any]], verdict: str | None) -> Image.Image:
    canvas = np.array(image.convert("RGB"))  # a writable copy
    scale = max(canvas.shape[:2]) / 640
    thickness = max(1, round(2 * scale))
    font_scale = max(0.4, 0.5 * scale)
    for det in detections:
        color = PALETTE[int(det.get("class_id", 0)) % len(PALETTE)]
        box = det["box"]
        p1 = (round(box["x1"]), round(box["y1"]))
        p2 = (round(box["x2"]), round(box["y2"]))
        cv2.rectangle(canvas, p1, p2, color, thickness)
        text = f"{det['label']} {det['confidence']:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, 1)
        top = max(th + base, p1[1])
        cv2.rectangle(canvas, (p1[0], top - th - base), (p1[0] + tw, top), color, -1)
        cv2.putText(
            canvas,
            text,
            (p1[0], top - base),
            cv2.FONT_HERSHEY_SIMPLEX,
            font_scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    if verdict:
        color = (40, 170, 40) if verdict == "OK" else (210, 30, 30)
        cv2.putText(
            canvas,
            verdict,
            (10, round(40 * scale) + 10),
            cv2.FONT_HERSHEY_SIMPLEX,
            1.2 * scale + 0.3,
            color,
            thickness + 1,
            cv2.LINE_AA,
        )
    return Image.fromarray(canvas)
