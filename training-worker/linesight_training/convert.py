"""Turns an uploaded .pt, an untrusted pickle, into an ONNX model without opening it in this process: a child
process does it (`python -m linesight_training.convert_child`), with a minimal environment (no secrets), a
fresh temporary folder as its home and working directory, limits on address space and CPU time, a
wall-clock timeout, and Ultralytics' weights_only loading so that a pickle naming anything outside the
model format is refused before any of it runs."""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linesight_training.convert_child import RESULT_FILE, SOURCE_FILE
from linesight_training.export import ExportFailed, check_onnx

log = logging.getLogger("linesight_training.convert")

MAX_RESULT_BYTES = 1 << 20
# What a child that ran out of address space prints, depending on where the allocation failed.
MEMORY_SIGNS = (
    "MemoryError",
    "Cannot allocate memory",
    "can't allocate memory",
    "std::bad_alloc",
    "failed to map segment",
    "out of memory",
)


@dataclass(frozen=True)
class ConvertLimits:
    # RLIMIT_AS: address space, not resident memory. torch reserves about 3.2 GiB of it on import alone,
    # and exporting a YOLOv8l at 640 peaks at 5.4 GiB, so 8 GiB leaves room for the large models.
    memory_bytes: int = 8 * 2**30
    cpu_seconds: int = 600  # RLIMIT_CPU: the kernel kills the child with SIGXCPU past it
    wall_seconds: int = 900  # then the child and anything it started are killed


class ConversionFailed(Exception):
    """The .pt could not be converted; the message says why, in words for the person who uploaded it."""


@dataclass(frozen=True)
class ChildOutcome:
    returncode: int | None  # None: killed at the wall-clock limit
    output: str  # the end of what the child printed (stdout and stderr)


def convert_pt_isolated(
    pt: Path, *, out_dir: Path, imgsz: int | None = None, limits: ConvertLimits = ConvertLimits()
) -> tuple[Path, dict[str, Any]]:
    """Convert the untrusted `pt` to `out_dir/<pt stem>.onnx` in an isolated child process; return the ONNX
    path and {"task", "names" (list, index = class id), "imgsz"}. `imgsz` None: the size the model was
    trained at. Raises ConversionFailed."""
    if not pt.is_file():
        raise ConversionFailed(f"{pt.name} does not exist")
    if imgsz is not None and not 32 <= imgsz <= 4096:
        raise ConversionFailed(f"image size {imgsz} is outside 32..4096")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="linesight-convert-") as tmp:
        workdir = Path(tmp)
        shutil.copyfile(pt, workdir / SOURCE_FILE)  # the child sees this copy and nothing else of ours
        args = ["-m", "linesight_training.convert_child", SOURCE_FILE]
        if imgsz is not None:
            args += ["--imgsz", str(imgsz)]
        outcome = run_isolated(args, workdir=workdir, limits=limits)
        result = _read_result(workdir / RESULT_FILE)
        if outcome.returncode != 0 or not result.get("ok"):
            reason = _explain(outcome, result, limits)
            log.warning("conversion failed", extra={"file": pt.name, "reason": reason})
            raise ConversionFailed(reason)
        produced = workdir / str(result.get("onnx", ""))
        if produced.parent != workdir or not produced.is_file():
            raise ConversionFailed("the converter reported an ONNX file it did not write")
        try:
            metadata = check_onnx(produced, load_runtime=False)  # onnxruntime loaded it in the child
        except ExportFailed as exc:
            raise ConversionFailed(str(exc)) from exc
        info = {"task": metadata["task"], "names": [metadata["names"][i] for i in sorted(metadata["names"])]}
        info["imgsz"] = int(result["imgsz"])
        if info["task"] not in ("detect", "classify") or info["names"] != result.get("names"):
            raise ConversionFailed("the ONNX metadata does not match what the converter reported")
        target = out_dir / f"{pt.stem}.onnx"
        shutil.move(produced, target)
    log.info("converted", extra={"file": pt.name, "onnx": str(target), "task": info["task"]})
    return target, info


def run_isolated(args: list[str], *, workdir: Path, limits: ConvertLimits) -> ChildOutcome:
    """Run `python -I <args>` in `workdir` with the environment of `child_environment` and the limits;
    its output goes to a file there, of which the end is returned."""
    log_file = workdir / "child.log"
    (workdir / "tmp").mkdir(exist_ok=True)
    with log_file.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-I", *args],
            cwd=workdir,
            env=child_environment(workdir),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            close_fds=True,
            start_new_session=True,  # its own process group: the timeout kills whatever it started, too
            preexec_fn=_limit(limits),  # only setrlimit calls between fork and exec
        )
        returncode: int | None = None
        try:
            returncode = proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            pass
        finally:
            # Also on the way out of an exception here (a Celery time limit): nothing outlives the call.
            _kill_group(proc)
    return ChildOutcome(returncode, _tail(log_file))


def child_environment(workdir: Path) -> dict[str, str]:
    """Built from nothing, so no secret of the worker (LINESIGHT_*, S3 and database credentials, tokens)
    reaches the child: Ultralytics offline, weights_only loading, no package installs, CPU only."""
    return {
        "PATH": os.defpath,
        "HOME": str(workdir),
        "TMPDIR": str(workdir / "tmp"),
        "LANG": "C.UTF-8",
        "YOLO_CONFIG_DIR": str(workdir / "ultralytics-config"),
        "YOLO_OFFLINE": "1",
        "YOLO_AUTOINSTALL": "false",
        "ULTRALYTICS_SAFE_LOAD": "1",
        "MPLCONFIGDIR": str(workdir / "matplotlib"),
        "MPLBACKEND": "Agg",
        "CUDA_VISIBLE_DEVICES": "",
        # Fewer threads and malloc arenas: each reserves address space counted by RLIMIT_AS.
        "OMP_NUM_THREADS": "1",
        "MALLOC_ARENA_MAX": "2",
    }


def _limit(limits: ConvertLimits):
    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _read_result(path: Path) -> dict[str, Any]:
    try:
        if path.stat().st_size > MAX_RESULT_BYTES:
            return {}
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return result if isinstance(result, dict) else {}


def _tail(path: Path, size: int = 4000) -> str:
    try:
        with path.open("rb") as f:
            f.seek(max(0, path.stat().st_size - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _explain(outcome: ChildOutcome, result: dict[str, Any], limits: ConvertLimits) -> str:
    if outcome.returncode is None:
        return f"the conversion took longer than {limits.wall_seconds} s and was stopped"
    if outcome.returncode == -signal.SIGXCPU:
        return f"the conversion used more than {limits.cpu_seconds} s of CPU time and was stopped"
    if outcome.returncode == -signal.SIGKILL:
        return "the converter was killed (CPU time or memory exhausted)"
    said = f"{outcome.output}\n{result.get('error', '')}"
    if result.get("reason") == "memory" or any(sign in said for sign in MEMORY_SIGNS):
        return (
            f"the conversion needed more than the {limits.memory_bytes / 2**30:.1f} GiB of memory it may use"
        )
    if result.get("error"):
        return str(result["error"])
    last = outcome.output.strip().splitlines()[-1:] or ["no output"]
    return f"the converter stopped with status {outcome.returncode}: {last[0][:300]}"
