"""A dataset version as a YOLO zip that Ultralytics' own dataset checks accept: detect and segment →
data.yaml + images/<split>/ + labels/<split>/ (boxes or polygons), classify → <split>/<class name>/. Written from the
version's manifest, with every image checked against its sha256 on the way."""

from __future__ import annotations

import hashlib
import posixpath
import zipfile
from typing import Any, BinaryIO

import yaml

from linesight_core.storage import ObjectStore

# A fixed timestamp: the same version always exports to the same bytes.
EPOCH = (1980, 1, 1, 0, 0, 0)


class ExportError(RuntimeError):
    pass


def export_splits(items: list[dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], bool]:
    """Items per folder. Training needs a val folder: when the hash rule left val empty (a small
    dataset), the test images are written as val instead, and the export says so."""
    by_split: dict[str, list[dict[str, Any]]] = {"train": [], "val": [], "test": []}
    for item in items:
        by_split[item["split"]].append(item)
    val_from_test = not by_split["val"] and bool(by_split["test"])
    if val_from_test:
        by_split["val"], by_split["test"] = by_split["test"], []
    return by_split, val_from_test


def _folder(zf: zipfile.ZipFile, name: str) -> None:
    info = zipfile.ZipInfo(name.rstrip("/") + "/", date_time=EPOCH)
    info.external_attr = (0o40755 << 16) | 0x10
    zf.writestr(info, b"")


def _text(zf: zipfile.ZipFile, name: str, content: str) -> None:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    zf.writestr(info, content)


def _image(zf: zipfile.ZipFile, store: ObjectStore, bucket: str, name: str, item: dict[str, Any]) -> None:
    info = zipfile.ZipInfo(name, date_time=EPOCH)
    info.compress_type = zipfile.ZIP_STORED  # photos are compressed already
    info.external_attr = 0o100644 << 16
    digest = hashlib.sha256()
    with zf.open(info, "w") as out:
        for chunk in store.iter_object(bucket, item["image_key"]):
            digest.update(chunk)
            out.write(chunk)
    if digest.hexdigest() != item["sha256"]:
        raise ExportError(f"The stored image {item['image_key']} does not match its sha256.")


def label_lines(labels: list[dict[str, Any]]) -> str:
    """YOLO label lines: `class cx cy w h` for a box, `class x1 y1 x2 y2 ...` for a polygon."""
    lines = []
    for b in labels:
        if "polygon" in b:
            lines.append(f"{b['class_id']} " + " ".join(f"{x:.6f} {y:.6f}" for x, y in b["polygon"]))
        else:
            lines.append(f"{b['class_id']} {b['cx']:.6f} {b['cy']:.6f} {b['w']:.6f} {b['h']:.6f}")
    return "".join(line + "\n" for line in lines)


def data_yaml(manifest: dict[str, Any], splits: list[str], val_from_test: bool) -> str:
    header = [
        f"# LineSight dataset {manifest['dataset']}, version {manifest['version']}",
        "# No `path:` key: Ultralytics then resolves the folders below against this file's folder.",
    ]
    if val_from_test:
        header.append("# This version has no val images; its test images are used as val.")
    body: dict[str, Any] = {s: f"images/{s}" for s in splits}
    body["names"] = dict(enumerate(manifest["class_names"]))
    return "\n".join(header) + "\n" + yaml.safe_dump(body, sort_keys=False, allow_unicode=True)


def write_yolo_zip(
    store: ObjectStore, bucket: str, manifest: dict[str, Any], manifest_raw: bytes, out: BinaryIO
) -> dict[str, int]:
    """Write the export to `out`; returns images per split as written."""
    by_split, val_from_test = export_splits(manifest["items"])
    classify = manifest["task"] == "classify"
    names: list[str] = manifest["class_names"]
    written: dict[str, int] = {}
    with zipfile.ZipFile(out, "w", allowZip64=True) as zf:
        _text(zf, "manifest.json", manifest_raw.decode())
        splits = ["train", "val"] + (["test"] if by_split["test"] else [])
        if classify:
            for split in splits:
                for name in names:  # every class folder, so Ultralytics sees every class
                    _folder(zf, f"{split}/{name}")
        else:
            for split in splits:
                _folder(zf, f"images/{split}")
                _folder(zf, f"labels/{split}")
            _text(zf, "data.yaml", data_yaml(manifest, splits, val_from_test))
        for split in splits:
            count = 0
            for item in by_split[split]:
                ext = posixpath.splitext(item["image_key"])[1]
                if classify:
                    if not item["labels"]:
                        continue  # not labelled yet: nothing to learn from
                    _image(
                        zf,
                        store,
                        bucket,
                        f"{split}/{names[item['labels']['class_id']]}/{item['sha256']}{ext}",
                        item,
                    )
                else:
                    _image(zf, store, bucket, f"images/{split}/{item['sha256']}{ext}", item)
                    _text(zf, f"labels/{split}/{item['sha256']}.txt", label_lines(item["labels"] or []))
                count += 1
            written[split] = count
    return written
