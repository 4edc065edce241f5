"""What the Datasets page shows and sends, with no Streamlit here: an item's YOLO labels as boxes in its
pixels (to draw them) and boxes drawn on a photo as YOLO label lines (to add it), the class list typed
for a new dataset, and the texts and tables of items, imports and version diffs."""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from PIL import Image, ImageOps

from linesight_core.contracts.datasets import (
    DatasetItemOut,
    DatasetStats,
    DetectLabel,
    ImportReport,
    VersionDiff,
)
from linesight_core.contracts.registry import NAME_PATTERN
from linesight_ui.boxes import Box
from linesight_ui.label_drawing import PALETTE, draw_tagged
from linesight_ui.masks import class_name, draw_masks, item_instances, photo_size
from linesight_ui.tables import when


def item_boxes(item: DatasetItemOut, class_names: Sequence[str], width: int, height: int) -> list[Box]:
    """A detect item's labels (normalised centre and size) as boxes on its image shown at width x height."""
    if not isinstance(item.labels, list):
        return []
    return [
        Box(
            class_name(class_names, lab.class_id),
            (lab.cx - lab.w / 2) * width,
            (lab.cy - lab.h / 2) * height,
            (lab.cx + lab.w / 2) * width,
            (lab.cy + lab.h / 2) * height,
        )
        for lab in item.labels
        if isinstance(lab, DetectLabel)
    ]


def shrink(photo: bytes, max_width: int) -> bytes:
    """The photo (EXIF orientation applied) at most `max_width` wide, as JPEG; the labels are normalised,
    so they fit it as they fit the original."""
    with Image.open(io.BytesIO(photo)) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    if image.width > max_width:
        image = image.resize((max_width, max(1, round(image.height * max_width / image.width))))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=88)
    return out.getvalue()


def draw_item(photo: bytes, item: DatasetItemOut, class_names: Sequence[str]) -> bytes:
    """The item's image (any size: the labels are normalised) as PNG with each box outlined in its
    class's colour and tagged with its name; a segment item's polygons filled semi-transparently."""
    if isinstance(item.labels, list) and item.labels and not isinstance(item.labels[0], DetectLabel):
        width, height = photo_size(photo)
        return draw_masks(photo, item_instances(item, class_names, width, height), class_names)
    ids = {name: n for n, name in enumerate(class_names)}
    width, height = photo_size(photo)
    groups = [
        ([b.body()], PALETTE[ids.get(b.label, 0) % len(PALETTE)], b.label)
        for b in item_boxes(item, class_names, width, height)
    ]
    return draw_tagged(photo, groups)


def yolo_lines(boxes: Iterable[Box], width: int, height: int, class_names: Sequence[str]) -> str:
    """Boxes in a photo's pixels (checked: inside it, of known classes) as YOLO label lines
    `class cx cy w h`, normalised to the photo and rounded to 6 decimals as YOLO text is."""
    ids = {name: n for n, name in enumerate(class_names)}
    lines = []
    for b in boxes:
        cx, cy = (b.x1 + b.x2) / 2 / width, (b.y1 + b.y2) / 2 / height
        w, h = (b.x2 - b.x1) / width, (b.y2 - b.y1) / height
        lines.append(f"{ids[b.label]} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}")
    return "\n".join(lines)


def parse_classes(text: str) -> list[str]:
    """Class names typed one a line or separated by commas, in order, blanks left out."""
    return [part.strip() for part in re.split(r"[,\n]", text) if part.strip()]


def new_dataset_problems(name: str, classes: Sequence[str]) -> list[str]:
    """What keeps a new dataset from being made, in words (the gateway checks again)."""
    problems = []
    if not re.fullmatch(NAME_PATTERN, name):
        problems.append(
            f"The name {name!r} cannot be used: up to 100 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or a digit."
            if name
            else "Give the dataset a name."
        )
    if not classes:
        problems.append("Give at least one class.")
    repeated = sorted({c for c in classes if list(classes).count(c) > 1})
    if repeated:
        problems.append(f"Each class once: {', '.join(repeated)} repeated.")
    return problems


def labels_text(item: DatasetItemOut, class_names: Sequence[str], task: str = "detect") -> str:
    """What an item is labelled with, in a few words."""
    labels = item.labels
    if labels is None:
        return "no class"
    if not isinstance(labels, list):
        return class_name(class_names, labels.class_id)
    if not labels:
        return "no outlines" if task == "segment" else "no boxes"
    counts: dict[str, int] = {}
    for lab in labels:
        name = class_name(class_names, lab.class_id)
        counts[name] = counts.get(name, 0) + 1
    return ", ".join(f"{n} {name}" for name, n in counts.items())


def item_caption(item: DatasetItemOut, class_names: Sequence[str], task: str = "detect") -> str:
    return f"{item.split} · {item.source} · {labels_text(item, class_names, task)}"


def items_table(
    items: Iterable[DatasetItemOut], class_names: Sequence[str], task: str = "detect"
) -> pd.DataFrame:
    rows = [
        {
            "split": i.split,
            "source": i.source,
            "labels": labels_text(i, class_names, task),
            "size": f"{i.width}x{i.height}",
            "origin": i.origin,
            "added": when(i.created_at),
            "sha256": i.sha256,
        }
        for i in items
    ]
    return pd.DataFrame(rows, columns=["split", "source", "labels", "size", "origin", "added", "sha256"])


def shown_range(offset: int, count: int, total: int) -> str:
    """`Items 13–24 of 40`."""
    if not total or not count:
        return f"No item of {total}" if total else "No item"
    return f"Items {offset + 1}–{offset + count} of {total}"


def last_page(total: int, per_page: int) -> int:
    """The number of pages (at least 1) for `total` items."""
    return max(1, -(-total // per_page))


def size_text(size: int) -> str:
    """`840 KB`, `12.5 MB`."""
    if size < 1_000_000:
        return f"{max(1, round(size / 1000))} KB" if size else "0 KB"
    return f"{size / 1e6:.1f} MB"


def import_text(report: ImportReport) -> str:
    return (
        f"{report.images} image{'s' if report.images != 1 else ''} in the archive: {report.added} added, "
        f"{report.replaced} relabelled, {report.skipped} skipped (already there with the same labels, or "
        "not annotated)."
    )


def diff_text(diff: VersionDiff) -> str:
    if diff.against is None:
        return f"Version {diff.version} is the first: all its {diff.added_count} images are new."
    return (
        f"Version {diff.version} against version {diff.against}: {diff.added_count} added, "
        f"{diff.removed_count} removed, {diff.relabelled_count} relabelled."
    )


def diff_table(diff: VersionDiff) -> pd.DataFrame:
    """One row per image that changed: what happened to it and its sha256."""
    rows: list[dict[str, Any]] = [
        {"change": change, "sha256": sha}
        for change, shas in (
            ("added", diff.added),
            ("removed", diff.removed),
            ("relabelled", diff.relabelled),
        )
        for sha in shas
    ]
    return pd.DataFrame(rows, columns=["change", "sha256"])


def segment_stats_table(stats: DatasetStats, class_names: Sequence[str]) -> pd.DataFrame:
    """Per class of a segment dataset: its polygons, their area in pixels and the mean share of its image
    one polygon covers (the registry's figures; a class without polygons has zeros and no share)."""
    areas = stats.mask_area_px_per_class or {}
    shares = stats.mask_share_per_class or {}
    names = list(dict.fromkeys([*class_names, *stats.instances_per_class]))
    rows = [
        {
            "class": name,
            "instances": int(stats.instances_per_class.get(name, 0)),
            "mask area (px)": round(float(areas.get(name) or 0.0)),
            "mean share of the image": None if shares.get(name) is None else round(float(shares[name]), 4),
        }
        for name in names
    ]
    return pd.DataFrame(rows, columns=["class", "instances", "mask area (px)", "mean share of the image"])
