"""Turns an uploaded .pt, an untrusted pickle, into an ONNX model and a clean checkpoint without opening it
in this process: the child (`convert_child`) runs in the sandbox of sandbox.py, or in the separate
`converter` service (converter.py) when a spool folder is configured. This side treats everything the child
left as hostile: it reads only regular files by name (no links, no FIFOs), bounded in size; it says why a
conversion failed with a message of its own chosen from a fixed set, never with text of the child; and it
keeps the weights only after rebuilding them from the clean checkpoint (clean_checkpoint.py)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linesight_training.clean_checkpoint import TASKS, CheckpointInvalid, load_clean, rebuild
from linesight_training.convert_child import RESULT_FILE, SOURCE_FILE, WEIGHTS_FILE
from linesight_training.export import ExportFailed, check_onnx
from linesight_training.sandbox import SandboxLimits, SandboxOutcome, module_args, run_sandboxed

log = logging.getLogger("linesight_training.convert")

ConvertLimits = SandboxLimits
CHILD = "linesight_training.convert_child"
MAX_RESULT_BYTES = 64 * 1024
MAX_OUTPUT_BYTES = 4 * 2**30
# What a child that ran out of address space prints, depending on where the allocation failed.
MEMORY_SIGNS = (
    "MemoryError",
    "Cannot allocate memory",
    "can't allocate memory",
    "std::bad_alloc",
    "failed to map segment",
    "out of memory",
)
# The child's reason (convert_child.REASONS) → what the uploader reads in the run's error.
MESSAGES = {
    "foreign_objects": "the file is not an Ultralytics model checkpoint, or holds objects outside that format "
    "(refused, never run)",
    "not_a_checkpoint": "the file is not a PyTorch checkpoint (empty, truncated or not a pickle)",
    "torchscript": "the file is a TorchScript archive, not an Ultralytics .pt checkpoint",
    "yolov5": "the file is a YOLOv5 model, which this Ultralytics version cannot load",
    "unsupported_task": "the model is not a detect, segment or classify model; only those are supported",
    "no_names": "the model has no class names",
    "bad_imgsz": "the model's image size is outside 32..4096",
}
FAILED = "the checkpoint could not be converted"
INVALID_OUTPUT = "the converter's output is not a valid model; the checkpoint could not be converted"


class ConversionFailed(Exception):
    """The .pt could not be converted; the message says why, in words of the platform (never the child's)."""


@dataclass(frozen=True)
class Converted:
    onnx: Path
    weights: Path  # an Ultralytics checkpoint the worker rebuilt itself, for fine-tuning
    info: dict[str, Any]  # {"task", "names" (list, index = class id), "imgsz"}


def convert_pt_isolated(
    pt: Path,
    *,
    out_dir: Path,
    imgsz: int | None = None,
    limits: SandboxLimits = SandboxLimits(),
    spool: Path | None = None,
    child: list[str] | None = None,
) -> Converted:
    """Convert the untrusted `pt` to `out_dir/<stem>.onnx` and `out_dir/<stem>.weights.pt`. `imgsz` None:
    the size the model was trained at. `spool`: the converter service's folder (else the local sandbox).
    `child`: other Python arguments for the sandboxed child (tests: a loader that does run the pickle,
    to show what the sandbox holds when weights_only loading is bypassed). Raises ConversionFailed."""
    if not pt.is_file():
        raise ConversionFailed(f"{pt.name} does not exist")
    if imgsz is not None and not 32 <= imgsz <= 4096:
        raise ConversionFailed(f"image size {imgsz} is outside 32..4096")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="linesight-convert-") as tmp:
        os.chmod(tmp, 0o711)  # noqa: S103 -- the sandbox user may pass through to its folder, not list this one
        workdir = Path(tmp) / "job"
        workdir.mkdir()
        shutil.copyfile(pt, workdir / SOURCE_FILE)  # the child sees this copy and nothing else of ours
        if spool is not None:
            from linesight_training.converter import submit

            outcome = submit(spool, workdir, imgsz=imgsz, wait_seconds=limits.wall_seconds + 120)
        else:
            args = child or module_args(CHILD, SOURCE_FILE, *(["--imgsz", str(imgsz)] if imgsz else []))
            outcome = run_sandboxed(args, workdir=workdir, limits=limits, env=child_environment())
        taken = Path(tmp) / "taken"
        taken.mkdir()
        result = _read_result(workdir, taken)
        if outcome.returncode != 0 or not result.get("ok"):
            reason = explain(outcome, result, limits, _log_tail(workdir, taken))
            log.warning("conversion failed", extra={"file": pt.name, "reason": reason})
            raise ConversionFailed(reason)
        info = _check_outputs(workdir, taken, result)
        onnx = out_dir / f"{pt.stem}.onnx"
        shutil.move(taken / "model.onnx", onnx)
        try:
            weights = rebuild(load_clean(taken / WEIGHTS_FILE), out_dir / f"{pt.stem}.weights.pt")
        except CheckpointInvalid:
            onnx.unlink()
            raise ConversionFailed(INVALID_OUTPUT) from None
    log.info("converted", extra={"file": pt.name, "onnx": str(onnx), "task": info["task"]})
    return Converted(onnx, weights, info)


def child_environment() -> dict[str, str]:
    """Built from nothing, so no secret of the worker (LINESIGHT_*, S3 and database credentials, tokens)
    reaches the child: Ultralytics offline, weights_only loading, no package installs, CPU only."""
    return {
        "PATH": os.defpath,
        "HOME": "{workdir}",
        "TMPDIR": "{workdir}/tmp",
        "LANG": "C.UTF-8",
        "YOLO_CONFIG_DIR": "{workdir}/ultralytics-config",
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "false",
        "ULTRALYTICS_SAFE_LOAD": "1",
        "MPLCONFIGDIR": "{workdir}/matplotlib",
        "MPLBACKEND": "Agg",
        "CUDA_VISIBLE_DEVICES": "",
        # Fewer threads and malloc arenas: each reserves address space counted by RLIMIT_AS.
        "OMP_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


def take(workdir: Path, name: str, target: Path, max_bytes: int) -> bool:
    """Copy the child's file `name` to `target` when it is a regular file of its own in `workdir` (not a
    link, FIFO or device, one name only) of at most `max_bytes`. False when it is not."""
    if "/" in name or name in ("", ".", ".."):
        return False
    try:
        fd = os.open(workdir / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1 or st.st_size > max_bytes:
        os.close(fd)
        return False
    with os.fdopen(fd, "rb") as src:
        with target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
            copied = dst.tell()
    return copied <= max_bytes


def _read_result(workdir: Path, taken: Path) -> dict[str, Any]:
    if not take(workdir, RESULT_FILE, taken / RESULT_FILE, MAX_RESULT_BYTES):
        return {}
    try:
        result = json.loads((taken / RESULT_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return result if isinstance(result, dict) else {}


def _log_tail(workdir: Path, taken: Path, size: int = 8000) -> str:
    """The end of the child's output, for the worker's log and to recognise running out of memory."""
    if not take(workdir, "child.log", taken / "child.log", MAX_OUTPUT_BYTES):
        return ""
    with (taken / "child.log").open("rb") as f:
        f.seek(max(0, (taken / "child.log").stat().st_size - size))
        return f.read().decode("utf-8", "replace")


def _check_outputs(workdir: Path, taken: Path, result: dict[str, Any]) -> dict[str, Any]:
    onnx_name, names = result.get("onnx"), result.get("names")
    if not (
        isinstance(onnx_name, str)
        and onnx_name.endswith(".onnx")
        and result.get("weights") == WEIGHTS_FILE
        and take(workdir, onnx_name, taken / "model.onnx", MAX_OUTPUT_BYTES)
        and take(workdir, WEIGHTS_FILE, taken / WEIGHTS_FILE, MAX_OUTPUT_BYTES)
    ):
        raise ConversionFailed(INVALID_OUTPUT)
    try:
        metadata = check_onnx(taken / "model.onnx", load_runtime=False)  # onnxruntime loaded it in the child
    except ExportFailed:
        raise ConversionFailed(INVALID_OUTPUT) from None
    info = {"task": metadata["task"], "names": [metadata["names"][i] for i in sorted(metadata["names"])]}
    imgsz = result.get("imgsz")
    if info["task"] not in TASKS or info["names"] != names or not isinstance(imgsz, int):
        raise ConversionFailed(INVALID_OUTPUT)
    info["imgsz"] = imgsz
    return info


def explain(outcome: SandboxOutcome, result: dict[str, Any], limits: SandboxLimits, output: str) -> str:
    """The platform's message for a failed conversion. The child's output is only matched against known
    signs of running out of memory; none of its text is passed on."""
    if outcome.returncode is None:
        return f"the conversion took longer than {limits.wall_seconds} s and was stopped"
    if outcome.returncode == -signal.SIGXCPU:
        return f"the conversion used more than {limits.cpu_seconds} s of CPU time and was stopped"
    if outcome.returncode == -signal.SIGKILL:
        return "the converter was killed (CPU time or memory exhausted)"
    if result.get("reason") == "memory" or any(sign in output for sign in MEMORY_SIGNS):
        return (
            f"the conversion needed more than the {limits.memory_bytes / 2**30:.1f} GiB of memory it may use"
        )
    if output.strip():
        log.warning("converter output", extra={"tail": output[-2000:]})  # for operators only
    reason = result.get("reason")
    return MESSAGES.get(reason, FAILED) if isinstance(reason, str) else FAILED
