"""`python -I -m linesight_training.convert_child model.pt [--imgsz N]`: the isolated child of convert.py. In its
working directory (a fresh temporary folder) it loads the untrusted checkpoint with Ultralytics'
weights_only loading, exports ONNX and writes result.json ({"ok", "onnx", "task", "names", "imgsz"} or
{"error", "reason"}), then exits. Only convert.py starts it, with the limits and environment it sets."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

SOURCE_FILE = "model.pt"
RESULT_FILE = "result.json"
MAX_IMGSZ = 4096

# Ultralytics' loader errors → what the uploader is told.
LOAD_ERRORS = (
    (
        "references types outside",
        "the file is not an Ultralytics model checkpoint, or holds objects outside that format (refused, never run)",
    ),
    ("not a loadable checkpoint", "the file is not a PyTorch checkpoint (empty, truncated or not a pickle)"),
    ("TorchScript archive", "the file is a TorchScript archive, not an Ultralytics .pt checkpoint"),
    ("YOLOv5", "the file is a YOLOv5 model, which this Ultralytics version cannot load"),
)


class Refused(Exception):
    """The checkpoint is not something the platform can register."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linesight_training.convert_child")
    parser.add_argument("pt", type=Path)
    parser.add_argument("--imgsz", type=int, default=None)
    args = parser.parse_args(argv)
    result_path = Path.cwd() / RESULT_FILE
    try:
        result = {"ok": True, **convert(args.pt, args.imgsz)}
        status = 0
    except MemoryError:
        result, status = {"error": "out of memory", "reason": "memory"}, 3
    except Refused as exc:
        result, status = {"error": str(exc), "reason": "refused"}, 2
    except Exception as exc:  # noqa: BLE001 -- every failure is reported to the parent in result.json
        result, status = {"error": _describe(exc), "reason": "failed"}, 2
    result_path.write_text(json.dumps(result), encoding="utf-8")
    return status


def convert(pt: Path, imgsz: int | None) -> dict[str, Any]:
    if os.environ.get("ULTRALYTICS_SAFE_LOAD") != "1":
        raise RuntimeError(
            "refusing to unpickle without ULTRALYTICS_SAFE_LOAD=1 (start me through convert.py)"
        )
    if not _looks_like_a_checkpoint(pt):
        raise Refused("the file is not a PyTorch checkpoint (empty, truncated or not a pickle)")
    from linesight_training.offline import configure_ultralytics

    here = Path.cwd()
    configure_ultralytics(here / "ultralytics-config", here / "ultralytics-work")
    from ultralytics import YOLO

    try:
        model = YOLO(str(pt))
    except (TypeError, ModuleNotFoundError, RuntimeError) as exc:
        raise Refused(_describe(exc)) from exc
    if model.task not in ("detect", "classify"):
        raise Refused(f"the model is a {model.task} model; only detect and classify models are supported")
    names = dict(model.names or {})
    if not names:
        raise Refused("the model has no class names")
    if imgsz is None:
        trained = (getattr(model, "ckpt", None) or {}).get("train_args", {}).get("imgsz")
        imgsz = int(trained) if isinstance(trained, int) else 640
    if not 32 <= imgsz <= MAX_IMGSZ:
        raise Refused(f"image size {imgsz} is outside 32..{MAX_IMGSZ}")
    task = model.task
    del model

    from linesight_training.export import export_onnx

    onnx = export_onnx(pt, imgsz=imgsz, out_dir=here)
    return {"onnx": onnx.name, "task": task, "names": [str(names[i]) for i in sorted(names)], "imgsz": imgsz}


def _looks_like_a_checkpoint(pt: Path) -> bool:
    """torch.save writes a zip archive (a pickle inside); older versions a bare pickle (protocol 2+ starts
    with the PROTO opcode). Anything else is refused before torch sees it."""
    with pt.open("rb") as f:
        head = f.read(4)
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _describe(exc: BaseException) -> str:
    text = str(exc)
    for sign, message in LOAD_ERRORS:
        if sign in text:
            return message
    first = text.strip().splitlines()[0] if text.strip() else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
