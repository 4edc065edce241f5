"""Runs a Python child that may execute hostile code (the unpickling of an uploaded .pt) as shut off from
the worker as this machine allows, and makes sure nothing it started outlives it.

Isolation, best first (probed once per process, see `isolation()`):
- "namespaces": as root, `unshare` gives the child new network (no interface but a down loopback), PID,
  mount, IPC and UTS namespaces; sandbox_init.py, as root of them, makes every mount read-only, puts empty
  tmpfs over /tmp, /var/tmp, /run/lock and /dev/shm, binds the job's folder at /tmp/work and drops to the
  sandbox user (`nobody`) before it starts the child. The worker's processes are invisible, and its
  /proc/<pid>/environ unreadable to that other user anyway.
- "user-namespaces": not root, but unprivileged user namespaces are allowed: the same, with the child as
  the namespace's root, which owns nothing outside it.
- "process": neither (a container without the capability, for one): an empty environment, its own session
  and limits only. Compose therefore runs conversions in the separate `converter` service instead.

Always: an environment built from nothing (no secret of the worker), a working folder of its own, limits
on address space, CPU time, file size (and processes, for the sandbox user) and a wall-clock limit. On the
way out the whole tree is killed: with a PID namespace its init, which takes every process in it along;
otherwise the process group and every descendant found in /proc."""

from __future__ import annotations

import functools
import json
import logging
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

log = logging.getLogger("linesight_training.sandbox")

Isolation = Literal["namespaces", "user-namespaces", "process"]
INIT = Path(__file__).with_name("sandbox_init.py")
NAMESPACES = ["--net", "--pid", "--mount", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc"]
SANDBOX_USER = "nobody"
# Run a module of ours with -I (no environment, no user site): the import path is handed over explicitly.
BOOTSTRAP = (
    "import json, runpy, sys; sys.path[:0] = json.loads(sys.argv[1]); module = sys.argv[2]; "
    "sys.argv = [module, *sys.argv[3:]]; runpy.run_module(module, run_name='__main__', alter_sys=True)"
)


@dataclass(frozen=True)
class SandboxLimits:
    # RLIMIT_AS: address space, not resident memory. torch reserves about 3.2 GiB of it on import alone,
    # and exporting a YOLOv8l at 640 peaks at 5.4 GiB, so 8 GiB leaves room for the large models.
    memory_bytes: int = 8 * 2**30
    cpu_seconds: int = 600  # RLIMIT_CPU: the kernel stops the child with SIGXCPU past it
    wall_seconds: int = 900  # then the child and everything it started are killed
    file_bytes: int = 4 * 2**30  # RLIMIT_FSIZE: largest file it may write (an ONNX of a large model)
    processes: int = 256  # RLIMIT_NPROC of the sandbox user (torch starts a few threads per core)


@dataclass(frozen=True)
class SandboxOutcome:
    returncode: int | None  # None: killed at the wall-clock limit; negative: killed by that signal
    isolation: Isolation


def module_args(module: str, *args: str) -> list[str]:
    """Python arguments that run `module` of our packages inside the sandbox, found where this process
    found them (python -I ignores PYTHONPATH and an editable install may point elsewhere)."""
    import linesight_training

    roots = [str(Path(linesight_training.__file__).resolve().parent.parent)]
    return ["-c", BOOTSTRAP, json.dumps(roots), module, *args]


@functools.cache
def isolation() -> Isolation:
    """The best isolation this machine grants, tried once with a harmless command."""
    unshare = shutil.which("unshare")
    if unshare and sys.platform.startswith("linux"):
        attempts: list[tuple[Isolation, list[str]]] = []
        if os.geteuid() == 0:
            attempts.append(("namespaces", [unshare, *NAMESPACES]))
        attempts.append(("user-namespaces", [unshare, "--user", "--map-root-user", *NAMESPACES]))
        for name, cmd in attempts:
            probe = subprocess.run([*cmd, "true"], capture_output=True, timeout=30, check=False)
            if probe.returncode == 0:
                return name
    log.warning(
        "conversion sandbox without namespaces: the child that opens uploaded checkpoints shares the "
        "network and file system of the worker (use the converter service, see docs/operations.md)"
    )
    return "process"


def run_sandboxed(
    python_args: list[str], *, workdir: Path, limits: SandboxLimits, env: dict[str, str]
) -> SandboxOutcome:
    """Run `python -I <python_args>` in the sandbox with `workdir` as its folder (its only writable one
    where namespaces exist) and exactly `env` as its environment; "{workdir}" in a value is replaced by
    the folder as the child sees it. stdout and stderr go to workdir/child.log, which only operators read."""
    mode = isolation()
    uid, gid = _sandbox_ids() if mode != "user-namespaces" and os.geteuid() == 0 else (0, 0)
    (workdir / "tmp").mkdir(exist_ok=True)
    if uid and not _reachable(sys.executable) and mode == "process":
        uid, gid = 0, 0  # nobody could not start the interpreter (under /root, say): stay, limited
    if uid:
        _hand_over(workdir, uid, gid)
    spec = {
        "workdir": str(workdir),
        "namespaces": mode != "process",
        "uid": uid,
        "gid": gid,
        "env": env,
        "argv": [sys.executable, "-I", *python_args],
        "expose": _needed_paths() if uid else [],  # only another user needs a way through
        "limits": {
            "memory_bytes": limits.memory_bytes,
            "cpu_seconds": limits.cpu_seconds,
            "file_bytes": limits.file_bytes,
            "processes": limits.processes if uid else 0,
        },
    }
    unshare = shutil.which("unshare") or "unshare"
    prefix = {
        "namespaces": [unshare, *NAMESPACES],
        "user-namespaces": [unshare, "--user", "--map-root-user", *NAMESPACES],
        "process": [],
    }[mode]
    with (workdir / "child.log").open("wb") as out:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-I", str(INIT), json.dumps(spec)],
            cwd=workdir,
            env={"PATH": os.defpath, "LANG": "C.UTF-8"},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            close_fds=True,
            start_new_session=True,
        )
        returncode: int | None = None
        try:
            returncode = proc.wait(timeout=limits.wall_seconds)
        except subprocess.TimeoutExpired:
            pass
        finally:
            # Also on the way out of an exception here (a Celery time limit): nothing outlives the call.
            kill_tree(proc)
    if returncode is not None and returncode > 128:  # sandbox_init's way of saying "killed by a signal"
        returncode = -(returncode - 128)
    return SandboxOutcome(returncode, mode)


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL `proc`, its process group and every descendant, and wait until they are gone. With a PID
    namespace, the death of its init (a descendant) kills every process inside, setsid or not."""
    # Only while `proc` is not reaped: afterwards its pid may belong to another process. (Once it ended
    # on its own, a PID namespace is already empty; without one, orphans were reparented out of reach.)
    doomed = descendants(proc.pid) if proc.poll() is None else []
    for pid in doomed:
        _kill(pid)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        alive = [pid for pid in doomed if _alive(pid)]
        if not alive:
            return
        for pid in alive:
            _kill(pid)
        time.sleep(0.05)
    log.error("conversion processes survived SIGKILL", extra={"pids": alive})


def descendants(root: int) -> list[int]:
    """Every process below `root`, from the parent links in /proc (deepest last)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")  # a zombie has stopped running; its parent reaps it


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reachable(path: str) -> bool:
    """Whether every folder on the way to `path` lets others through."""
    parts = Path(os.path.realpath(path)).parents
    return all(os.stat(p).st_mode & 0o001 for p in parts)


def _needed_paths() -> list[str]:
    """What the child must reach: the interpreter, its libraries, the virtual environment, our packages."""
    import linesight_core
    import linesight_training

    paths = {sys.prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    for package in (linesight_training, linesight_core):
        paths.add(str(Path(package.__file__).resolve().parent.parent))
    return sorted(os.path.realpath(p) for p in paths)


@functools.cache
def _sandbox_ids() -> tuple[int, int]:
    entry = pwd.getpwnam(SANDBOX_USER)
    return entry.pw_uid, entry.pw_gid


def _hand_over(workdir: Path, uid: int, gid: int) -> None:
    """The sandbox user owns the job's folder and what is in it, nothing else."""
    for path in [workdir, *workdir.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)
