"""Dataset archives read safely: every member name, size and image is checked before anything is stored,
and a bad archive is refused whole with the list of what is wrong (the zip checks are in safe_zip.py).
Also the YOLO dataset zip parser (Label Studio exports are in labelstudio.py)."""

from __future__ import annotations

import hashlib
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from linesight_core.images import ImageRejected, decode_image
from linesight_registry.domain.labels import parse_label_text
from linesight_registry.domain.safe_zip import MAX_ERRORS, ArchiveLimits, MemberError, Problems, SafeZip

# Tasks whose items are images with a label file of lines: boxes or polygons.
LINE_TASKS = ("detect", "segment")
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})
MAX_TEXT_BYTES = 4 * 1024 * 1024  # one label file or data.yaml
SPLIT_FOLDERS = frozenset({"train", "val", "valid", "validation", "test"})


@dataclass(frozen=True)
class ArchivedItem:
    member: str
    sha256: str
    fmt: str
    size_bytes: int
    width: int
    height: int
    labels: Any


@dataclass
class ParsedArchive:
    items: list[ArchivedItem] = field(default_factory=list)
    images: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)


def read_image(z: SafeZip, name: str, problems: Problems) -> ArchivedItem | None:
    try:
        data = z.read(name, z.limits.image_max_bytes)
        decoded = decode_image(data, max_bytes=z.limits.image_max_bytes, max_pixels=z.limits.image_max_pixels)
    except MemberError as exc:
        problems.add(f"{name}: {exc}")
        return None
    except ImageRejected as exc:
        problems.add(f"{name}: {exc.detail}")
        return None
    sha = hashlib.sha256(data).hexdigest()
    width, height, fmt = decoded.width, decoded.height, decoded.format
    decoded.image.close()
    return ArchivedItem(name, sha, fmt, len(data), width, height, None)


def _read_text(z: SafeZip, name: str, problems: Problems) -> str | None:
    try:
        return z.read(name, MAX_TEXT_BYTES).decode("utf-8-sig")
    except MemberError as exc:
        problems.add(f"{name}: {exc}")
    except UnicodeDecodeError:
        problems.add(f"{name}: not UTF-8 text.")
    return None


def add_item(
    out: ParsedArchive, seen: dict[str, ArchivedItem], item: ArchivedItem, problems: Problems
) -> None:
    """One item per image content: a copy with the same labels is dropped, with other labels refused."""
    first = seen.get(item.sha256)
    if first is None:
        seen[item.sha256] = item
        out.items.append(item)
    elif first.labels != item.labels:
        problems.add(f"{item.member}: the same image as {first.member} with different labels.")
    elif len(out.warnings) < MAX_ERRORS:  # an export can name one image in any number of tasks
        out.warnings.append(f"{item.member} is a copy of {first.member}; imported once.")


def suffix(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


# ---------------------------------------------------------------------------------------------------
# YOLO dataset zips


def _find_data_yaml(z: SafeZip, problems: Problems) -> str | None:
    found = [n for n in z.files if posixpath.basename(n) in ("data.yaml", "data.yml")]
    if not found:
        return None
    depth = min(n.count("/") for n in found)
    top = [n for n in found if n.count("/") == depth]
    if len(top) > 1:
        problems.add(f"More than one data.yaml at the same level: {', '.join(top[:5])}; keep one.")
    return sorted(top)[0]


def _names_map(data: Any, class_names: list[str], yaml_name: str, problems: Problems) -> dict[int, int]:
    """Archive class id → dataset class id, matched by name."""
    names = data.get("names") if isinstance(data, dict) else None
    if isinstance(names, list):
        pairs = list(enumerate(names))
    elif isinstance(names, dict):
        pairs = []
        for k, v in names.items():
            try:
                pairs.append((int(k), v))
            except (TypeError, ValueError):
                problems.add(f"{yaml_name}: class id {k!r} in names is not an integer.")
    else:
        problems.add(f"{yaml_name}: `names` must be a list of class names or a map of id to name.")
        return {}
    out: dict[int, int] = {}
    for i, name in pairs:
        if not isinstance(name, str | int | float):  # aliases can nest anything; only plain names count
            problems.add(f"{yaml_name}: the name of class {i} is not text.")
        elif str(name) in class_names:
            out[i] = class_names.index(str(name))
        else:
            problems.add(
                f"{yaml_name}: class {name!r} (id {i}) is not a class of the dataset; "
                f"classes: {', '.join(class_names)}."
            )
    return out


def _label_member(image: str) -> str | None:
    """Ultralytics' own rule: the label of `.../images/x.jpg` is `.../labels/x.txt` (last `images`)."""
    parts = image.split("/")
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] == "images":
            return "/".join(
                [*parts[:i], "labels", *parts[i + 1 : -1], posixpath.splitext(parts[-1])[0] + ".txt"]
            )
    return None


def read_yolo(path: str, task: str, class_names: list[str], limits: ArchiveLimits) -> ParsedArchive:
    """A YOLO dataset zip. Detect and segment: data.yaml with `names`, images in `images/<split>/` with
    labels in `labels/<split>/` (or `<split>/images` + `<split>/labels`), a box or a polygon a line; an
    image without a label file is a background image. Classify: `<split>/<class>/<image>` or `<class>/<image>`. The archive's splits are
    not kept: every item's split comes from its hash."""
    problems = Problems()
    z = SafeZip(path, limits, problems)
    try:
        out = _read_yolo(z, task, class_names, problems)
    finally:
        z.close()
    problems.check()
    return out


def _read_yolo(z: SafeZip, task: str, class_names: list[str], problems: Problems) -> ParsedArchive:
    out = ParsedArchive()
    yaml_name = _find_data_yaml(z, problems)
    root = posixpath.dirname(yaml_name) + "/" if yaml_name and "/" in yaml_name else ""
    if task == "classify" and not yaml_name:
        tops = {n.split("/")[0] for n in z.files}
        top = next(iter(tops), "")
        if len(tops) == 1 and all("/" in n for n in z.files) and top not in SPLIT_FOLDERS | set(class_names):
            root = top + "/"  # everything inside one wrapping folder
    id_map: dict[int, int] = {}
    if task in LINE_TASKS:
        if yaml_name is None:
            problems.add(f"No data.yaml: a YOLO {task} archive needs a data.yaml with the class `names`.")
            return out
        text = _read_text(z, yaml_name, problems)
        if text is None:
            return out
        try:
            data = yaml.safe_load(text)
        except (yaml.YAMLError, RecursionError) as exc:
            problems.add(f"{yaml_name}: not valid YAML ({(str(exc).splitlines() or ['too deep'])[0]}).")
            return out
        id_map = _names_map(data, class_names, yaml_name, problems)
    members = [n for n in z.files if n.startswith(root)]
    images = [n for n in members if suffix(n) in IMAGE_SUFFIXES]
    out.images = len(images)
    if not images:
        problems.add("The archive holds no images (.jpg, .jpeg, .png, .webp, .bmp, .tif).")
    seen: dict[str, ArchivedItem] = {}
    if task in LINE_TASKS:
        wanted = {}
        for image in images:
            label = _label_member(image)
            if label is None:
                problems.add(f"{image}: images must be inside an images/ folder (images/<split>/...).")
            else:
                wanted[label] = image
        label_files = {
            n
            for n in members
            if suffix(n) == ".txt"
            and "labels" in n.split("/")[:-1]
            and posixpath.basename(n) != "classes.txt"
        }
        for orphan in sorted(label_files - wanted.keys()):
            problems.add(
                f"{orphan}: a label file without an image (expected one in the matching images/ folder)."
            )
        for label, image in sorted(wanted.items(), key=lambda kv: kv[1]):
            item = read_image(z, image, problems)
            labels: list[dict[str, Any]] = []
            if label in label_files:
                text = _read_text(z, label, problems)
                if text is None:
                    continue
                size = (item.width, item.height) if item is not None else None
                labels, errs = parse_label_text(task, text, len(class_names), id_map, size)
                for e in errs:
                    problems.add(f"{label}: {e}")
            if item is not None:
                add_item(out, seen, with_labels(item, labels), problems)
        other = [
            n for n in members if suffix(n) not in IMAGE_SUFFIXES and n not in label_files and n != yaml_name
        ]
    else:
        for image in sorted(images):
            parts = image[len(root) :].split("/")
            if len(parts) == 3 and parts[0] in SPLIT_FOLDERS:
                name = parts[1]
            elif len(parts) == 2:
                name = parts[0]
            else:
                problems.add(f"{image}: a classify archive keeps images in <split>/<class>/ or <class>/.")
                continue
            if name not in class_names:
                problems.add(
                    f"{image}: class {name!r} is not a class of the dataset; classes: {', '.join(class_names)}."
                )
                continue
            item = read_image(z, image, problems)
            if item is not None:
                add_item(out, seen, with_labels(item, {"class_id": class_names.index(name)}), problems)
        other = [n for n in members if suffix(n) not in IMAGE_SUFFIXES and n != yaml_name]
    other += [n for n in z.files if not n.startswith(root)]
    if other:
        out.warnings.append(f"Ignored {len(other)} other file(s), e.g. {', '.join(sorted(other)[:3])}.")
    out.warnings.append("Splits in the archive are not kept: each image's split comes from its hash.")
    return out


def with_labels(item: ArchivedItem, labels: Any) -> ArchivedItem:
    return ArchivedItem(item.member, item.sha256, item.fmt, item.size_bytes, item.width, item.height, labels)


def iter_members(
    path: str, items: list[ArchivedItem], limits: ArchiveLimits
) -> Iterator[tuple[ArchivedItem, bytes]]:
    """The checked items' bytes, read again for storing; the hash must still match what was checked."""
    problems = Problems()
    z = SafeZip(path, limits, problems)
    try:
        for item in items:
            data = z.read(item.member, limits.image_max_bytes)
            if hashlib.sha256(data).hexdigest() != item.sha256:
                raise MemberError(f"{item.member} changed while it was imported.")
            yield item, data
    finally:
        z.close()
