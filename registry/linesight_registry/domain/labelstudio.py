"""Label Studio JSON exports (a list of tasks) with their images in the same zip, read through the same
safe archive checks as YOLO zips: rectangles (detect), choices (classify), polygons and brush masks
(segment)."""

from __future__ import annotations

import posixpath
import re
from typing import Any
from urllib.parse import unquote

from linesight_registry.domain.archives import (
    IMAGE_SUFFIXES,
    ArchivedItem,
    ParsedArchive,
    add_item,
    read_image,
    suffix,
    with_labels,
)
from linesight_registry.domain.brush import BrushError, decode_alpha, mask_polygons
from linesight_registry.domain.json_stream import JSONRefused, NotAList, iter_list
from linesight_registry.domain.labels import box, canonical_boxes, canonical_polygons, polygon
from linesight_registry.domain.safe_zip import ArchiveLimits, MemberError, Problems, SafeZip

# Label Studio prefixes uploaded files with 8 hex digits and a dash (`1f2e3d4c-photo.jpg`).
UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")


def _image_basename(ref: str) -> str:
    return posixpath.basename(unquote(ref.split("?", 1)[0]))


def _class_of(r: Any, kind: str, class_names: list[str], where: str, problems: Problems) -> int | None:
    """The class id a result of this kind names, or None (the problem noted)."""
    v = r.get("value")
    names = v.get(kind) if isinstance(v, dict) else None
    if not isinstance(names, list) or not names:
        problems.add(f"{where}: a {kind} result without a class.")
        return None
    name = str(names[0])
    if name not in class_names:
        problems.add(
            f"{where}: class {name!r} is not a class of the dataset; classes: {', '.join(class_names)}."
        )
        return None
    return class_names.index(name)


def _ls_polygons(
    class_names: list[str], results: list[Any], where: str, problems: Problems, size: tuple[int, int]
) -> tuple[list[dict[str, Any]], int]:
    """Polygons from one annotation's results: `polygonlabels` (points in percent of the image) as they
    are, `brushlabels` (an RLE mask of the image) traced into one polygon per region. Also the number of
    brush regions too small to keep."""
    out: list[dict[str, Any]] = []
    dropped = 0
    for r in results:
        kind = r.get("type") if isinstance(r, dict) else None
        if kind not in ("polygonlabels", "brushlabels"):
            continue
        class_id = _class_of(r, kind, class_names, where, problems)
        if class_id is None:
            continue
        v = r["value"]
        if kind == "polygonlabels":
            try:
                points = [(float(x) / 100, float(y) / 100) for x, y in v["points"]]
                out.append(polygon(class_id, points, len(class_names), size))
            except (KeyError, TypeError, ValueError) as exc:
                detail = exc if isinstance(exc, ValueError) and str(exc) else "points as [[x, y], ...] needed"
                problems.add(f"{where}: polygon of class {class_names[class_id]!r}: {detail}")
            continue
        declared = (r.get("original_width"), r.get("original_height"))
        if declared != size:
            problems.add(
                f"{where}: the brush mask of class {class_names[class_id]!r} is of the wrong size: it is for a "
                f"{declared[0]}x{declared[1]} image, the image is {size[0]}x{size[1]}."
            )
            continue
        if v.get("format", "rle") != "rle" or "rle" not in v:
            problems.add(f"{where}: a brush result without an RLE mask (format 'rle').")
            continue
        try:
            regions, small = mask_polygons(decode_alpha(v["rle"], *size))
        except BrushError as exc:
            problems.add(f"{where}: brush mask of class {class_names[class_id]!r}: {exc}.")
            continue
        dropped += small
        out.extend({"class_id": class_id, "polygon": [list(p) for p in region]} for region in regions)
    return canonical_polygons(out), dropped


def _ls_labels(task: str, class_names: list[str], results: list[Any], where: str, problems: Problems) -> Any:
    """Labels from one annotation's results: rectangles in percent of the image (top-left corner, size)
    for detect, the first choice for classify; None when the annotation says nothing for the task."""
    kind = "rectanglelabels" if task == "detect" else "choices"
    boxes: list[dict[str, Any]] = []
    for r in results:
        if not isinstance(r, dict) or r.get("type") != kind:
            continue
        class_id = _class_of(r, kind, class_names, where, problems)
        if class_id is None:
            continue
        if task == "classify":
            return {"class_id": class_id}
        v = r["value"]
        try:
            if float(v.get("rotation") or 0) % 360:
                problems.add(f"{where}: rotated boxes ({v.get('rotation')}°) cannot be stored as YOLO boxes.")
                continue
            x, y, w, h = (float(v[k]) / 100 for k in ("x", "y", "width", "height"))
            boxes.append(box(class_id, x + w / 2, y + h / 2, w, h, len(class_names)))
        except (KeyError, TypeError, ValueError) as exc:
            problems.add(f"{where}: {exc if isinstance(exc, ValueError) else 'x, y, width, height needed'}")
    if task == "classify":
        return None
    return canonical_boxes(boxes)


def read_labelstudio(path: str, task: str, class_names: list[str], limits: ArchiveLimits) -> ParsedArchive:
    """A Label Studio JSON export (a list of tasks) with the images in the same zip, matched by file
    name. Cancelled annotations are skipped; of several, the last one counts. A task without a finished
    annotation is skipped, not imported as an empty image."""
    problems = Problems()
    z = SafeZip(path, limits, problems)
    try:
        out = _read_labelstudio(z, task, class_names, problems)
    finally:
        z.close()
    problems.check()
    return out


def _read_labelstudio(z: SafeZip, task: str, class_names: list[str], problems: Problems) -> ParsedArchive:
    out = ParsedArchive()
    exports = [n for n in z.files if suffix(n) == ".json"]
    if len(exports) != 1:
        problems.add(
            "A Label Studio archive holds exactly one JSON export; found "
            + (", ".join(sorted(exports)[:5]) if exports else "none")
            + "."
        )
        return out
    reader = _TaskReader(z, task, class_names, out, problems)
    # Streamed: each task is built, matched and dropped in turn, so the export is never held whole.
    try:
        with z.open(exports[0], z.limits.max_json_bytes) as export:
            for index, t in enumerate(iter_list(export)):
                reader.add(index, t)
    except MemberError as exc:
        problems.add(f"{exports[0]}: {exc}")
        return out
    except NotAList:
        problems.add(f"{exports[0]}: a Label Studio JSON export is a list of tasks.")
        return out
    except JSONRefused as exc:
        problems.add(f"{exports[0]}: {exc}")
        return out
    out.images = len(reader.used)
    out.skipped = reader.unannotated
    if reader.unannotated:
        out.warnings.append(f"Skipped {reader.unannotated} task(s) without a finished annotation.")
    if reader.small_regions:
        out.warnings.append(
            f"Left out {reader.small_regions} brush region(s) too small to be a polygon (under half a pixel)."
        )
    unused = sorted(n for names in reader.by_name.values() for n in names if n not in reader.used)
    if unused:
        out.warnings.append(
            f"Ignored {len(unused)} image(s) no task refers to, e.g. {', '.join(unused[:3])}."
        )
    if not reader.tasks:
        problems.add(f"{exports[0]}: the export holds no tasks.")
    return out


class _TaskReader:
    """Matches tasks, one at a time, to the archive's images and keeps only the items they make."""

    def __init__(
        self, z: SafeZip, task: str, class_names: list[str], out: ParsedArchive, problems: Problems
    ) -> None:
        self.z = z
        self.task = task
        self.class_names = class_names
        self.out = out
        self.problems = problems
        self.by_name: dict[str, list[str]] = {}
        for n in z.files:
            if suffix(n) in IMAGE_SUFFIXES:
                self.by_name.setdefault(posixpath.basename(n), []).append(n)
        self.used: set[str] = set()
        self.seen: dict[str, ArchivedItem] = {}
        self.decoded: dict[str, ArchivedItem | None] = {}
        self.unannotated = 0
        self.tasks = 0
        self.small_regions = 0

    def add(self, index: int, t: Any) -> None:
        self.tasks += 1
        problems = self.problems
        where = f"task {t.get('id', index) if isinstance(t, dict) else index}"
        ref = (
            t.get("data", {}).get("image")
            if isinstance(t, dict) and isinstance(t.get("data"), dict)
            else None
        )
        if not isinstance(ref, str) or not ref:
            problems.add(f"{where}: no data.image to match an image in the archive.")
            return
        base = _image_basename(ref)
        candidates = self.by_name.get(base) or self.by_name.get(UPLOAD_PREFIX.sub("", base)) or []
        if not candidates:
            problems.add(f"{where}: its image {base!r} is not in the archive.")
            return
        if len(candidates) > 1:
            problems.add(f"{where}: {base!r} matches several images ({', '.join(candidates[:3])}).")
            return
        member = candidates[0]
        self.used.add(member)
        annotations = [
            a for a in t.get("annotations") or [] if isinstance(a, dict) and not a.get("was_cancelled")
        ]
        results = (annotations[-1].get("result") or []) if annotations else []
        if not isinstance(results, list):
            problems.add(f"{where}: the annotation's result is not a list.")
            return
        if self.task == "segment":
            self._add_polygons(member, where, annotations, results)
            return
        labels = _ls_labels(self.task, self.class_names, results, where, problems) if annotations else None
        if not annotations or (self.task == "classify" and labels is None):
            self.unannotated += 1
            return
        item = self._image(member)
        if item is not None:
            add_item(self.out, self.seen, with_labels(item, labels), problems)

    def _image(self, member: str) -> ArchivedItem | None:
        if member not in self.decoded:
            self.decoded[member] = read_image(self.z, member, self.problems)
        return self.decoded[member]

    def _add_polygons(self, member: str, where: str, annotations: list[Any], results: list[Any]) -> None:
        """Polygons need the image's size (brush masks are checked against it), so it is read first."""
        if not annotations:
            self.unannotated += 1
            return
        item = self._image(member)
        if item is None:
            return
        labels, small = _ls_polygons(
            self.class_names, results, where, self.problems, (item.width, item.height)
        )
        self.small_regions += small
        add_item(self.out, self.seen, with_labels(item, labels), self.problems)
