"""`python -m linesight_training.converter --spool DIR`: the `converter` service of compose, a container
with no network, no credentials, a read-only root and a tmpfs, that converts one uploaded .pt per life.

The worker and this service share only the spool folder. The worker (`submit`, holding the spool's lock so
one job is in it at a time) writes `job-<id>/model.pt` and then `job-<id>/request.json`; the service copies the job
into its tmpfs, runs the sandboxed child there with the limits of its own settings, kills every other
process of the container once the child ends (it is the container's PID 1), copies the child's files back
into `job/` and writes `job/outcome.json` last. Then it exits and compose starts a fresh container, so
nothing a hostile checkpoint left behind meets the next one."""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from linesight_training.convert_child import SOURCE_FILE
from linesight_training.sandbox import SandboxLimits, SandboxOutcome, module_args, run_sandboxed

log = logging.getLogger("linesight_training.converter")

REQUEST, OUTCOME, JOB = "request.json", "outcome.json", "job"
POLL_SECONDS = 0.5


@contextlib.contextmanager
def _spool_lock(spool: Path) -> Iterator[None]:
    # O_NOFOLLOW: the converter's side may have left a link here; it must not make us create files.
    fd = os.open(spool / ".lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # one job in the spool at a time, across worker processes
        yield
    finally:
        os.close(fd)  # releases the lock


def submit(spool: Path, workdir: Path, *, imgsz: int | None, wait_seconds: float) -> SandboxOutcome:
    """Worker side: hand workdir/model.pt to the converter service, wait for it, and put what it returned
    into `workdir` (to be read as hostile, like the local child's files)."""
    from linesight_training.convert import take  # convert imports this module lazily: no cycle at import

    with _spool_lock(spool):
        for stale in spool.iterdir():  # jobs of a worker that died waiting
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
        job_id = uuid.uuid4().hex
        job = spool / f"{JOB}-{job_id}"
        staging = spool / f"{JOB}-{job_id}.tmp"
        staging.mkdir()
        shutil.copyfile(workdir / SOURCE_FILE, staging / SOURCE_FILE)
        staging.rename(job)
        (job / f"{REQUEST}.tmp").write_text(json.dumps({"imgsz": imgsz}), encoding="utf-8")
        (job / f"{REQUEST}.tmp").rename(job / REQUEST)  # the service starts on this name only
        deadline = time.monotonic() + wait_seconds
        try:
            while not (job / OUTCOME).exists():
                if time.monotonic() > deadline:
                    log.error("the converter service did not answer", extra={"spool": str(spool)})
                    return SandboxOutcome(None, "process")
                time.sleep(POLL_SECONDS)
            returncode: int | None = None
            if take(job, OUTCOME, workdir / OUTCOME, 4096):
                with contextlib.suppress(ValueError, OSError):
                    value = json.loads((workdir / OUTCOME).read_text(encoding="utf-8")).get("returncode")
                    returncode = value if isinstance(value, int) else None
            for entry in returned(job):
                take(job, entry, workdir / entry, 4 * 2**30)
            return SandboxOutcome(returncode, "process")
        finally:
            shutil.rmtree(job, ignore_errors=True)


def returned(folder: Path) -> list[str]:
    """The child's files that travel back: its result, its log, the clean checkpoint and one ONNX."""
    from linesight_training.convert_child import RESULT_FILE, WEIGHTS_FILE

    names = sorted(os.listdir(folder))
    onnx = [name for name in names if name.endswith(".onnx")][:1]
    return [name for name in (RESULT_FILE, "child.log", WEIGHTS_FILE) if name in names] + onnx


def serve_one(spool: Path, limits: SandboxLimits) -> None:
    """Service side: wait for a job, convert it, answer, return."""
    while True:
        jobs = [path.parent for path in spool.glob(f"{JOB}-*/{REQUEST}")]
        if jobs:
            job = jobs[0]
            break
        time.sleep(POLL_SECONDS)
    outcome = SandboxOutcome(2, "process")  # what the worker hears when this side fails
    try:
        outcome = _convert(job, limits)
    finally:
        _answer(job, {"returncode": outcome.returncode})
    log.info("conversion done", extra={"returncode": outcome.returncode})


def _convert(job: Path, limits: SandboxLimits) -> SandboxOutcome:
    from linesight_training.convert import child_environment, take

    request = json.loads((job / REQUEST).read_text(encoding="utf-8"))
    imgsz = request.get("imgsz") if isinstance(request, dict) else None
    with tempfile.TemporaryDirectory(prefix="convert-") as tmp:
        workdir = Path(tmp)
        if not take(job, SOURCE_FILE, workdir / SOURCE_FILE, 4 * 2**30):
            return SandboxOutcome(2, "process")
        extra = ["--imgsz", str(imgsz)] if isinstance(imgsz, int) else []
        outcome = run_sandboxed(
            module_args("linesight_training.convert_child", SOURCE_FILE, *extra),
            workdir=workdir,
            limits=limits,
            env=child_environment(),
        )
        _kill_everything_else()
        for entry in returned(workdir):
            take(workdir, entry, job / entry, 4 * 2**30)
    return outcome


def _kill_everything_else() -> None:
    """As a container's PID 1, kill(-1) reaches every other process in it: a setsid grandchild of the
    checkpoint included. Elsewhere (a test) the sandbox's process-group and descendant kill must do."""
    if os.getpid() != 1:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(-1, signal.SIGKILL)
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _answer(job: Path, outcome: dict[str, int | None]) -> None:
    (job / f"{OUTCOME}.tmp").write_text(json.dumps(outcome), encoding="utf-8")
    (job / f"{OUTCOME}.tmp").rename(job / OUTCOME)


def main(argv: list[str] | None = None) -> int:
    from linesight_training.settings import TrainingSettings

    parser = argparse.ArgumentParser(prog="linesight_training.converter")
    parser.add_argument("--spool", type=Path, default=None, help="default: LINESIGHT_CONVERTER_SPOOL_DIR")
    parser.add_argument("--jobs", type=int, default=1, help="jobs before exiting (0: no end)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    settings = TrainingSettings()
    spool = args.spool or settings.converter_spool_dir
    if spool is None:
        parser.error("no spool folder: --spool or LINESIGHT_CONVERTER_SPOOL_DIR")
    limits = SandboxLimits(
        memory_bytes=settings.convert_memory_bytes,
        cpu_seconds=settings.convert_cpu_seconds,
        wall_seconds=settings.convert_wall_seconds,
    )
    done = 0
    while args.jobs == 0 or done < args.jobs:
        serve_one(spool, limits)
        done += 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
