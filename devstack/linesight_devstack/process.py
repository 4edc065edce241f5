"""One child process of the stack: its own process group, its output appended to a log file, and an
orderly stop (a signal to the leader, then SIGKILL to the whole group after a grace period)."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

PROC = Path("/proc")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (state first), or None when it is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rfind(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """When the process started (clock ticks since boot): tells a recorded pid from a reused one."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def pid_alive(pid: int, ticks: int | None = None) -> bool:
    """True when `pid` runs (not a zombie) and, if `ticks` is given, is the process that was recorded."""
    if pid <= 0:
        return False
    if not PROC.is_dir():  # not Linux: the best a signal 0 can say
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return ticks is None or int(fields[19]) == ticks


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group."""
    if not PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    members = []
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields and fields[0] not in ("Z", "X") and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_gone(is_gone: Callable[[], bool], timeout: float, abort: threading.Event | None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_gone():
            return True
        if abort is not None and abort.is_set():
            return is_gone()
        time.sleep(0.05)
    return is_gone()


def stop_group(
    pid: int,
    *,
    stop_signal: int = signal.SIGTERM,
    grace: float = 10.0,
    ticks: int | None = None,
    popen: subprocess.Popen | None = None,
    abort: threading.Event | None = None,
) -> None:
    """Stop the group led by `pid`: `stop_signal` to the leader (which stops its own children: Celery's
    pool, Postgres's backends), SIGKILL to the whole group after `grace` seconds or at once when `abort`
    is set (a second Ctrl-C), then SIGKILL to whatever the leader left behind in its group."""
    pgid = pid  # every process here is started as the leader of its own group

    def leader_gone() -> bool:
        if popen is not None:
            return popen.poll() is not None
        return not pid_alive(pid, ticks)

    if not leader_gone():
        try:
            os.kill(pid, stop_signal)
        except ProcessLookupError:
            pass
        if not _wait_gone(leader_gone, grace, abort):
            _killpg(pgid, signal.SIGKILL)
            _wait_gone(leader_gone, 10.0, None)
    # children that outlived their leader (a forked pool process, a helper) go too
    if group_members(pgid):
        _wait_gone(lambda: not group_members(pgid), min(grace, 2.0), abort)
        _killpg(pgid, signal.SIGKILL)
        _wait_gone(lambda: not group_members(pgid), 5.0, None)


class ManagedProcess:
    """A child process led in its own process group, its stdout and stderr appended to `log_path`."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        grace: float = 10.0,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self.grace = grace
        self.popen: subprocess.Popen | None = None
        self.started_at: str | None = None
        self.ticks: int | None = None
        self._stop_logged = False

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def start(self) -> None:
        if self.running:
            raise RuntimeError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.started_at = now_iso()
        self._stop_logged = False
        with open(self.log_path, "ab") as log:
            log.write(
                f"\n===== {self.started_at} devstack starts {self.name}: {' '.join(self.argv)}\n".encode()
            )
            log.flush()
            kwargs: dict = {}
            if self.user is not None:
                kwargs.update(user=self.user, group=self.user, extra_groups=[])
            self.popen = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,  # its own group: stopping it stops its children, Ctrl-C does not
                close_fds=True,
                **kwargs,
            )
        self.ticks = start_ticks(self.popen.pid)

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.popen.poll() if self.popen else None

    def stop(self, *, abort: threading.Event | None = None, grace: float | None = None) -> int | None:
        """Stop the process and its group; returns its exit code (None if it was never started)."""
        if self.popen is None:
            return None
        if self.popen.poll() is not None and self._stop_logged:
            return self.popen.returncode
        stop_group(
            self.popen.pid,
            stop_signal=self.stop_signal,
            grace=self.grace if grace is None else grace,
            popen=self.popen,
            abort=abort,
        )
        code = self.popen.wait()
        self._stop_logged = True
        with open(self.log_path, "ab") as log:
            log.write(f"===== {now_iso()} devstack: {self.name} stopped (exit code {code})\n".encode())
        return code

    def log_tail(self, lines: int = 30) -> str:
        return tail(self.log_path, lines)

    def record(self) -> dict:
        """What the state file keeps about the process (for `status` and `down` in another terminal)."""
        return {
            "pid": self.pid,
            "start_ticks": self.ticks,
            "started_at": self.started_at,
            "log": str(self.log_path),
            "argv": self.argv,
            "stop_signal": int(self.stop_signal),
            "grace": self.grace,
        }


def tail(path: Path, lines: int = 30) -> str:
    """The last `lines` lines of a log file (read from its end, so big logs are cheap)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read()
    except FileNotFoundError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])
