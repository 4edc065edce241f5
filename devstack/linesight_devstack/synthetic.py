"""Synthetic workstation photos: tools drawn as shapes on a bench, with YOLO labels. The demo
(`make demo`) trains its first detector on them; the tests and benchmarks use them as station photos."""

from __future__ import annotations

import io
import random
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

CLASSES = ["wrench", "screwdriver", "tape"]
COLORS = {"wrench": (200, 40, 40), "screwdriver": (30, 90, 220), "tape": (240, 200, 20)}


@dataclass
class Placed:
    cls: int
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in pixels


def draw_scene(rng: random.Random, size: tuple[int, int] = (320, 240), present: list[int] | None = None):
    """One bench photo with the given classes present (default: a random subset)."""
    w, h = size
    wood = (150 + rng.randint(-15, 15), 110 + rng.randint(-15, 15), 70 + rng.randint(-10, 10))
    img = Image.new("RGB", size, wood)
    draw = ImageDraw.Draw(img)
    for y in range(0, h, 12):  # wood grain
        shade = rng.randint(-20, 20)
        draw.line([(0, y), (w, y + rng.randint(-4, 4))], fill=tuple(max(0, c + shade) for c in wood), width=2)
    if present is None:
        present = [c for c in range(len(CLASSES)) if rng.random() < 0.75]
    placed: list[Placed] = []
    slots = [(int(w * (i + 0.5) / 3), h // 2) for i in range(3)]
    rng.shuffle(slots)
    for cls, (cx, cy) in zip(present, slots, strict=False):
        cx += rng.randint(-20, 20)
        cy += rng.randint(-40, 40)
        name = CLASSES[cls]
        color = tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in COLORS[name])
        if name == "wrench":
            bw, bh = rng.randint(28, 40), rng.randint(70, 100)
            box = (cx - bw // 2, cy - bh // 2, cx + bw // 2, cy + bh // 2)
            draw.rectangle(box, fill=color)
            draw.ellipse((box[0] - 6, box[1] - 10, box[2] + 6, box[1] + 16), fill=color)
            box = (box[0] - 6, box[1] - 10, box[2] + 6, box[3])
        elif name == "screwdriver":
            bw, bh = rng.randint(14, 20), rng.randint(80, 110)
            box = (cx - bw // 2, cy - bh // 2, cx + bw // 2, cy + bh // 2)
            draw.rectangle((box[0], box[1], box[2], box[1] + bh // 2), fill=color)
            draw.rectangle((cx - 3, box[1] + bh // 2, cx + 3, box[3]), fill=(180, 180, 190))
        else:
            r = rng.randint(22, 32)
            box = (cx - r, cy - r, cx + r, cy + r)
            draw.ellipse(box, fill=color)
            draw.ellipse((cx - r // 2, cy - r // 2, cx + r // 2, cy + r // 2), fill=wood)
        box = (max(0, box[0]), max(0, box[1]), min(w - 1, box[2]), min(h - 1, box[3]))
        placed.append(Placed(cls, box))
    img = img.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0, 0.8)))
    return img, placed


def yolo_label_lines(placed: list[Placed], size: tuple[int, int]) -> list[str]:
    w, h = size
    lines = []
    for p in placed:
        x1, y1, x2, y2 = p.box
        lines.append(
            f"{p.cls} {(x1 + x2) / 2 / w:.6f} {(y1 + y2) / 2 / h:.6f} {(x2 - x1) / w:.6f} {(y2 - y1) / h:.6f}"
        )
    return lines


def write_detect_dataset(root: Path, n_train: int = 48, n_val: int = 12, seed: int = 0) -> Path:
    """A YOLO detect dataset with data.yaml; returns the path of data.yaml."""
    rng = random.Random(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            img, placed = draw_scene(rng)
            img.save(root / "images" / split / f"{split}_{i:04d}.jpg", quality=92)
            (root / "labels" / split / f"{split}_{i:04d}.txt").write_text(
                "\n".join(yolo_label_lines(placed, img.size))
            )
    data = root / "data.yaml"
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASSES))
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return data


def write_classify_dataset(root: Path, n_per_class: int = 24, seed: int = 0) -> Path:
    """A classify dataset (folders per class): `ok` has all three tools, `nok` misses at least one."""
    rng = random.Random(seed)
    for split, n in (("train", n_per_class), ("val", max(4, n_per_class // 3))):
        for label in ("ok", "nok"):
            folder = root / split / label
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                present = [0, 1, 2] if label == "ok" else rng.sample([0, 1, 2], rng.randint(0, 2))
                img, _ = draw_scene(rng, present=present)
                img.save(folder / f"{label}_{i:04d}.jpg", quality=92)
    return root


def write_detect_zip(
    path: Path, n_images: int = 120, seed: int = 0, size: tuple[int, int] = (320, 240)
) -> Path:
    """A YOLO detect dataset as a zip (data.yaml, images/train, labels/train), as an engineer would
    export it from a labelling tool. About a quarter of the photos miss one tool or more, so a model
    trained on it learns what a bench with a missing item looks like."""
    rng = random.Random(seed)
    names = "\n".join(f"  {i}: {n}" for i, n in enumerate(CLASSES))
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("data.yaml", f"path: .\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
        for i in range(n_images):
            img, placed = draw_scene(rng, size=size)
            buf = io.BytesIO()
            img.save(buf, format="JPEG", quality=92)
            zf.writestr(f"images/train/bench_{i:04d}.jpg", buf.getvalue())
            zf.writestr(f"labels/train/bench_{i:04d}.txt", "\n".join(yolo_label_lines(placed, img.size)))
    return path
