"""`linesight_training.convert_child model.pt [--imgsz N]`: the sandboxed child of convert.py (or of the
converter service). In its working directory it loads the untrusted checkpoint with Ultralytics'
weights_only loading, exports ONNX, writes the weights as a clean checkpoint (clean_checkpoint.py) and
writes result.json ({"ok", "onnx", "weights", "task", "names", "imgsz"} or {"reason": one of REASONS}),
then exits. The parent turns a reason into its own message: no text of this process reaches a user."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

SOURCE_FILE = "model.pt"
RESULT_FILE = "result.json"
WEIGHTS_FILE = "clean.pt"
MAX_IMGSZ = 4096

# Ultralytics' loader errors → the reason reported to the parent.
LOAD_ERRORS = (
    ("references types outside", "foreign_objects"),
    ("not a loadable checkpoint", "not_a_checkpoint"),
    ("TorchScript archive", "torchscript"),
    ("YOLOv5", "yolov5"),
)
# Every reason this child may report; convert.py holds the message for each.
REASONS = (
    "foreign_objects",
    "not_a_checkpoint",
    "torchscript",
    "yolov5",
    "unsupported_task",
    "no_names",
    "bad_imgsz",
    "memory",
    "failed",
)


class Refused(Exception):
    """The checkpoint is not something the platform can register; args[0] is one of REASONS."""


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
        result, status = {"reason": "memory"}, 3
    except Refused as exc:
        result, status = {"reason": exc.args[0]}, 2
    except Exception as exc:  # noqa: BLE001 -- every failure is reported to the parent in result.json
        result, status = {"reason": _reason(exc)}, 2
    result_path.write_text(json.dumps(result), encoding="utf-8")
    return status


def convert(pt: Path, imgsz: int | None) -> dict[str, Any]:
    if os.environ.get("ULTRALYTICS_SAFE_LOAD") != "1":
        raise RuntimeError(
            "refusing to unpickle without ULTRALYTICS_SAFE_LOAD=1 (start me through convert.py)"
        )
    if not _looks_like_a_checkpoint(pt):
        raise Refused("not_a_checkpoint")
    from linesight_training.offline import configure_ultralytics

    here = Path.cwd()
    configure_ultralytics(here / "ultralytics-config", here / "ultralytics-work")
    from ultralytics import YOLO

    try:
        model = YOLO(str(pt))
    except (TypeError, ModuleNotFoundError, RuntimeError) as exc:
        raise Refused(_reason(exc)) from exc
    from linesight_training.clean_checkpoint import TASKS

    if model.task not in TASKS:
        raise Refused("unsupported_task")
    names = dict(model.names or {})
    if not names:
        raise Refused("no_names")
    if imgsz is None:
        trained = (getattr(model, "ckpt", None) or {}).get("train_args", {}).get("imgsz")
        imgsz = int(trained) if isinstance(trained, int) else 640
    if not 32 <= imgsz <= MAX_IMGSZ:
        raise Refused("bad_imgsz")
    task = model.task
    names_list = [str(names[i]) for i in sorted(names)]
    from linesight_training.clean_checkpoint import save_clean

    save_clean(model, task=task, names=names_list, imgsz=imgsz, path=here / WEIGHTS_FILE)
    del model

    from linesight_training.export import export_onnx

    onnx = export_onnx(pt, imgsz=imgsz, out_dir=here)
    return {"onnx": onnx.name, "weights": WEIGHTS_FILE, "task": task, "names": names_list, "imgsz": imgsz}


def _looks_like_a_checkpoint(pt: Path) -> bool:
    """torch.save writes a zip archive (a pickle inside); older versions a bare pickle (protocol 2+ starts
    with the PROTO opcode). Anything else is refused before torch sees it."""
    with pt.open("rb") as f:
        head = f.read(4)
    return head.startswith(b"PK\x03\x04") or head[:1] == b"\x80"


def _reason(exc: BaseException) -> str:
    text = str(exc)
    for sign, reason in LOAD_ERRORS:
        if sign in text:
            return reason
    print(f"conversion failed: {type(exc).__name__}: {text[:2000]}", file=sys.stderr)  # for operators
    return "failed"


if __name__ == "__main__":
    sys.exit(main())
