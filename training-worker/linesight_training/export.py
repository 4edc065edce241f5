"""Exports a trained .pt to the ONNX file the registry stores and the inference service runs, with the
metadata Ultralytics writes (names, imgsz, stride, task), checked before it is handed back.

Ultralytics is imported inside the functions: `offline.configure_ultralytics` must have run first."""

from __future__ import annotations

import ast
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from linesight_training.offline import require_safe_loading

log = logging.getLogger("linesight_training.export")

REQUIRED_METADATA = ("names", "imgsz", "stride", "task")


class ExportFailed(Exception):
    """The ONNX file Ultralytics wrote is missing, lacks its metadata or does not load in onnxruntime."""


def export_onnx(pt: Path, *, imgsz: int, out_dir: Path, dynamic: bool = True) -> Path:
    """Export `pt` to `out_dir/<pt stem>.onnx` (dynamic batch and image size unless `dynamic` is False) and
    return its path. The .pt is loaded in Ultralytics' weights_only mode; an upload still goes through
    convert.py, which also confines the loading to a child process with limits."""
    from ultralytics import YOLO

    if not pt.is_file():
        raise FileNotFoundError(f"{pt} does not exist")
    require_safe_loading()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{pt.stem}.onnx"
    # Ultralytics writes the ONNX beside the .pt; a private copy keeps that away from the caller's folders.
    with tempfile.TemporaryDirectory(prefix="export-", dir=out_dir) as tmp:
        copy = Path(shutil.copyfile(pt, Path(tmp) / pt.name))
        exported = YOLO(str(copy)).export(
            format="onnx", imgsz=imgsz, dynamic=dynamic, simplify=True, device="cpu", verbose=False
        )
        produced = Path(str(exported)) if exported else copy.with_suffix(".onnx")
        if not produced.is_file():
            raise ExportFailed(f"Ultralytics wrote no ONNX file for {pt.name}")
        shutil.move(produced, target)
    metadata = check_onnx(target)
    log.info(
        "exported onnx", extra={"onnx": str(target), "task": metadata["task"], "imgsz": metadata["imgsz"]}
    )
    return target


def check_onnx(path: Path, *, load_runtime: bool = True) -> dict[str, Any]:
    """Check that `path` is an ONNX model with Ultralytics' metadata (and, with `load_runtime`, that
    onnxruntime loads it); return the metadata: names as {index: name}, imgsz as [h, w], stride, task."""
    import onnx

    try:
        proto = onnx.load(str(path), load_external_data=False)
        onnx.checker.check_model(proto)
    except Exception as exc:
        raise ExportFailed(f"{path.name} is not a valid ONNX model: {exc}") from exc
    raw = {p.key: p.value for p in proto.metadata_props}
    missing = [key for key in REQUIRED_METADATA if key not in raw]
    if missing:
        raise ExportFailed(f"{path.name} lacks the Ultralytics metadata {', '.join(missing)}")
    try:
        metadata = {
            "names": {int(k): str(v) for k, v in ast.literal_eval(raw["names"]).items()},
            "imgsz": [int(x) for x in ast.literal_eval(raw["imgsz"])],
            "stride": int(raw["stride"]),
            "task": raw["task"],
        }
    except (ValueError, SyntaxError, AttributeError, TypeError) as exc:
        raise ExportFailed(f"{path.name} has unreadable Ultralytics metadata: {exc}") from exc
    if not load_runtime:
        return metadata
    import onnxruntime

    try:
        onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ExportFailed(f"onnxruntime does not load {path.name}: {exc}") from exc
    return metadata
