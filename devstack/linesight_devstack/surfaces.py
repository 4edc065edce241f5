"""Synthetic surface photos for defect stations: textured plates (concrete, brushed metal, cast iron) with
thin random cracks and scratches, and clean plates, labelled in YOLO segmentation format.

A crack is a dark, jagged random walk with a branch now and then, 2 to 5 px wide at 320 px; a scratch is a
bright, nearly straight arc. Each defect's label is the outline of the very pixels drawn, traced from its
mask, so a polygon and the photo agree to the pixel. Every polygon passes the registry's polygon rules
(linesight_core.polygons): a defect whose outline would cross itself is drawn again.

Used by `make demo TASK=segment` and the segment end-to-end test. No download."""

from __future__ import annotations

import io
import math
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from linesight_core.polygons import normalised, polygon_problem

DEFECT_CLASSES = ["crack", "scratch"]
TEXTURES = ("concrete", "brushed", "cast")
_SIMPLIFY_PX = 0.7  # outline simplification (Douglas-Peucker), in pixels


@dataclass
class Defect:
    cls: int
    mask: np.ndarray  # HxW uint8, 1 inside
    polygon: list[tuple[float, float]]  # normalised 0..1, as stored

    @property
    def label(self) -> str:
        return DEFECT_CLASSES[self.cls]

    @property
    def length_px(self) -> float:
        """The longest side of the smallest rotated rectangle around the mask, as inference measures it."""
        pts = cv2.findNonZero(self.mask)
        (_, _), (rw, rh), _ = cv2.minAreaRect(pts)
        return float(max(rw, rh))


def texture(rng: random.Random, size: tuple[int, int], kind: str | None = None) -> np.ndarray:
    """An RGB uint8 plate of `kind` (random when None), with an uneven light."""
    w, h = size
    kind = kind or rng.choice(TEXTURES)
    nprng = np.random.default_rng(rng.randint(0, 2**31))
    base = rng.uniform(95, 160)
    if kind == "brushed":
        streaks = cv2.resize(nprng.normal(0, 9, (h, max(4, w // 40))), (w, h), interpolation=cv2.INTER_LINEAR)
        grey = base + streaks + nprng.normal(0, 3, (h, w))
    else:
        coarse = cv2.resize(nprng.normal(0, 14, (max(2, h // 24), max(2, w // 24))), (w, h))
        fine = nprng.normal(0, 9 if kind == "concrete" else 4, (h, w))
        grey = base + coarse + cv2.GaussianBlur(fine, (3, 3), 0)
        if kind == "concrete":  # pores
            for _ in range(rng.randint(10, 40)):
                cv2.circle(grey, (rng.randrange(w), rng.randrange(h)), rng.randint(1, 2), base - 35, -1)
    yy, xx = np.mgrid[0:h, 0:w]
    light = 1.0 + 0.18 * np.cos((xx / w - rng.random()) * math.pi) * np.cos((yy / h - rng.random()) * math.pi)
    grey = np.clip(grey * light, 0, 255)
    tint = np.array([rng.uniform(0.92, 1.05), 1.0, rng.uniform(0.92, 1.08)])
    return np.clip(grey[..., None] * tint, 0, 255).astype(np.uint8)


def _crack_mask(rng: random.Random, w: int, h: int, scale: float) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    x, y = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
    angle = rng.uniform(0, 2 * math.pi)
    steps = rng.randint(7, 14)
    step = rng.uniform(0.035, 0.06) * max(w, h)
    width = max(2, round(rng.uniform(2.0, 4.5) * scale))
    pts = [(x, y)]
    for _ in range(steps):
        angle += rng.uniform(-0.6, 0.6)
        x, y = x + step * math.cos(angle), y + step * math.sin(angle)
        if not (4 <= x < w - 4 and 4 <= y < h - 4):
            break
        pts.append((x, y))
    cv2.polylines(mask, [np.array(pts, np.int32)], False, 1, thickness=width)
    if len(pts) > 4 and rng.random() < 0.5:  # a branch from the middle, thinner
        bx, by = pts[len(pts) // 2]
        bangle = angle + rng.choice((-1, 1)) * rng.uniform(0.6, 1.2)
        branch = [(bx, by)]
        for _ in range(rng.randint(2, 4)):
            bangle += rng.uniform(-0.4, 0.4)
            bx, by = bx + step * 0.8 * math.cos(bangle), by + step * 0.8 * math.sin(bangle)
            if not (4 <= bx < w - 4 and 4 <= by < h - 4):
                break
            branch.append((bx, by))
        cv2.polylines(mask, [np.array(branch, np.int32)], False, 1, thickness=max(2, width - 1))
    return mask


def _scratch_mask(rng: random.Random, w: int, h: int, scale: float) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
    length = rng.uniform(0.25, 0.5) * max(w, h)
    angle = rng.uniform(0, math.pi)
    bend = rng.uniform(-0.15, 0.15)
    pts = []
    for k in range(9):
        t = k / 8 - 0.5
        a = angle + bend * t
        pts.append((cx + t * length * math.cos(a), cy + t * length * math.sin(a)))
    pts = [(min(max(px, 3), w - 4), min(max(py, 3), h - 4)) for px, py in pts]
    cv2.polylines(
        mask, [np.array(pts, np.int32)], False, 1, thickness=max(2, round(rng.uniform(2, 3) * scale))
    )
    return mask


def _outline(mask: np.ndarray) -> list[tuple[float, float]] | None:
    """The one outline of a mask in one piece, normalised, if it passes the polygon rules."""
    h, w = mask.shape
    contours = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0]
    if len(contours) != 1:
        return None
    simple = cv2.approxPolyDP(contours[0], _SIMPLIFY_PX, True).reshape(-1, 2)
    poly = normalised([((x + 0.5) / w, (y + 0.5) / h) for x, y in simple.tolist()])
    return None if polygon_problem(poly, w, h) else poly


def draw_surface(
    rng: random.Random, size: tuple[int, int] = (320, 240), defects: int | None = None
) -> tuple[Image.Image, list[Defect]]:
    """One photo and its defects: `defects` of them, or (None) none in a quarter of the photos and one to
    three otherwise. Defects never touch each other."""
    w, h = size
    scale = max(w, h) / 320
    rgb = texture(rng, size).astype(np.int16)
    count = (0 if rng.random() < 0.25 else rng.randint(1, 3)) if defects is None else defects
    taken = np.zeros((h, w), np.uint8)
    found: list[Defect] = []
    for _ in range(count * 8):
        if len(found) == count:
            break
        cls = 0 if rng.random() < 0.6 else 1
        mask = (_crack_mask if cls == 0 else _scratch_mask)(rng, w, h, scale)
        if cv2.dilate(mask, np.ones((7, 7), np.uint8)).astype(bool)[taken > 0].any():
            continue
        polygon = _outline(mask)
        if polygon is None:
            continue
        # The mask the label describes is the filled outline (what a reviewer would draw).
        filled = np.zeros_like(mask)
        cv2.fillPoly(filled, [np.rint(np.array(polygon) * (w, h) - 0.5).astype(np.int32)], 1)
        inside = filled > 0
        if cls == 0:
            rgb[inside] = (rgb[inside] * rng.uniform(0.25, 0.4)).astype(np.int16)
        else:
            rgb[inside] = np.minimum(rgb[inside] + rng.randint(60, 90), 255)
        taken |= filled
        found.append(Defect(cls, filled, polygon))
    photo = cv2.GaussianBlur(np.clip(rgb, 0, 255).astype(np.uint8), (3, 3), 0.6)
    return Image.fromarray(photo), found


def label_lines(defects: list[Defect]) -> list[str]:
    return [f"{d.cls} " + " ".join(f"{x:.6f} {y:.6f}" for x, y in d.polygon) for d in defects]


def write_segment_zip(path: Path, count: int, *, seed: int = 0, size: tuple[int, int] = (320, 240)) -> Path:
    """A YOLO segmentation zip (data.yaml, images/train, labels/train) of `count` photos, as a labelling
    tool exports it; the registry assigns the splits."""
    rng = random.Random(seed)  # noqa: S311 - reproducible pictures
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(DEFECT_CLASSES))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.yaml", f"path: .\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
        for i in range(count):
            split = "train"
            img, defects = draw_surface(rng, size)
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=93)
            zf.writestr(f"images/{split}/plate_{i:04d}.jpg", buf.getvalue())
            zf.writestr(f"labels/{split}/plate_{i:04d}.txt", "\n".join(label_lines(defects)))
    return path
