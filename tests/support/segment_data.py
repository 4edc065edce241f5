"""Synthetic surface photos for segment models: a dark textured plate with bright cracks (thick
polylines) and spots (blobs), labelled in YOLO segmentation format (class, then the normalised polygon
traced from the very pixels drawn)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

SEGMENT_CLASSES = ["crack", "spot"]


@dataclass
class Instance:
    cls: int
    mask: np.ndarray  # HxW uint8, 1 inside
    polygon: np.ndarray  # (K, 2) pixels


def draw_surface(rng: random.Random, size: tuple[int, int] = (320, 240), n: int | None = None):
    """One plate photo (PIL RGB) and its instances; `n` instances (default 1 to 3), never overlapping."""
    w, h = size
    nprng = np.random.default_rng(rng.randint(0, 2**31))
    base = rng.randint(40, 70)
    plate = np.clip(nprng.normal(base, 6, (h, w)), 0, 255).astype(np.uint8)
    plate = cv2.GaussianBlur(plate, (5, 5), 0)
    rgb = np.dstack([plate, plate, np.clip(plate.astype(int) + 8, 0, 255).astype(np.uint8)])
    count = rng.randint(1, 3) if n is None else n
    cells = [(i % 2, i // 2) for i in range(4)]  # a 2x2 grid keeps instances apart
    rng.shuffle(cells)
    instances: list[Instance] = []
    for cx, cy in cells[:count]:
        x0, y0, cw, ch = cx * w // 2, cy * h // 2, w // 2, h // 2
        mask = np.zeros((h, w), dtype=np.uint8)
        cls = rng.randint(0, 1)
        if cls == 0:  # crack: a jagged polyline across most of the cell
            pts = []
            steps = rng.randint(3, 5)
            horizontal = rng.random() < 0.5
            for k in range(steps + 1):
                t = 0.1 + 0.8 * k / steps
                j = rng.uniform(0.3, 0.7)
                px, py = (t, j) if horizontal else (j, t)
                pts.append((int(x0 + px * cw), int(y0 + py * ch)))
            cv2.polylines(mask, [np.array(pts, np.int32)], False, 1, thickness=rng.randint(7, 10))
        else:  # spot: a rotated ellipse
            centre = (int(x0 + rng.uniform(0.35, 0.65) * cw), int(y0 + rng.uniform(0.35, 0.65) * ch))
            axes = (rng.randint(14, 30), rng.randint(10, 22))
            cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, 1, thickness=-1)
        shade = rng.randint(190, 245)
        rgb[mask > 0] = (shade, shade, max(0, shade - 20))
        contours = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]
        polygon = max(contours, key=cv2.contourArea).reshape(-1, 2)
        instances.append(Instance(cls, mask, polygon))
    return Image.fromarray(rgb), instances


def segment_label_lines(instances: list[Instance], size: tuple[int, int]) -> list[str]:
    w, h = size
    return [
        f"{inst.cls} " + " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in inst.polygon.tolist())
        for inst in instances
    ]


def write_segment_dataset(root: Path, n_train: int = 96, n_val: int = 16, seed: int = 0) -> Path:
    """A YOLO segment dataset with data.yaml; returns the path of data.yaml."""
    return write_segment_splits(root, {"train": n_train, "val": n_val}, seed=seed, path=str(root))


def write_segment_splits(
    root: Path, counts: dict[str, int], *, seed: int = 0, size: tuple[int, int] = (320, 240), path: str = "."
) -> Path:
    """Plates in `counts[split]` per split, and data.yaml with `path: <path>` (".": the yaml's folder, as
    the registry exports it); returns the path of data.yaml."""
    rng = random.Random(seed)
    for split, n in counts.items():
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, instances = draw_surface(rng, size)
            img.save(root / "images" / split / f"{split}_{i:04d}.png")
            (root / "labels" / split / f"{split}_{i:04d}.txt").write_text(
                "\n".join(segment_label_lines(instances, img.size))
            )
    data = root / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(SEGMENT_CLASSES))
    entries = "".join(f"{split}: images/{split}\n" for split in counts)
    data.write_text(f"path: {path}\n{entries}names:\n{names}\n")
    return data
