"""`status` and `down` for a stack started elsewhere (another terminal, a test session): everything they
know comes from the data folder's state.json, checked against the live processes."""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from linesight_devstack.process import pid_alive, stop_group
from linesight_devstack.services import readiness_summary
from linesight_devstack.state import read_state, remove_state

RUNNER_STOP_TIMEOUT = 180.0


@dataclass
class ProcessStatus:
    name: str
    kind: str
    pid: int | None
    alive: bool
    status: str
    url: str

    @property
    def healthy(self) -> bool:
        return self.alive and self.status in ("ready", "listening")


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def _ready_status(url: str) -> str:
    try:
        resp = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        return f"no answer ({type(exc).__name__})"
    if resp.status_code == 200:
        return "ready"
    return "not ready: " + readiness_summary(resp).split("failed: ", 1)[-1]


def process_status(name: str, rec: dict[str, Any]) -> ProcessStatus:
    pid = rec.get("pid")
    alive = pid is not None and pid_alive(pid, rec.get("start_ticks"))
    if not alive:
        status = "stopped"
    elif rec.get("kind") == "service":
        status = _ready_status(rec["ready_url"])
    else:
        status = "listening" if _port_open(rec["port"]) else "port closed"
    return ProcessStatus(name, rec.get("kind", "?"), pid, alive, status, rec.get("url", ""))


@dataclass
class StackStatus:
    data_dir: Path
    runner_pid: int | None
    runner_alive: bool
    started_at: str | None
    processes: list[ProcessStatus]

    @property
    def healthy(self) -> bool:
        return bool(self.processes) and all(p.healthy for p in self.processes)


def stack_status(data_dir: Path) -> StackStatus | None:
    state = read_state(data_dir)
    if state is None:
        return None
    runner = state.get("runner") or {}
    runner_alive = bool(runner.get("pid")) and pid_alive(runner["pid"], runner.get("start_ticks"))
    processes = [process_status(n, rec) for n, rec in (state.get("processes") or {}).items()]
    return StackStatus(data_dir, runner.get("pid"), runner_alive, state.get("started_at"), processes)


def stop_stack(
    data_dir: Path, echo: Callable[[str], None] = print, timeout: float = RUNNER_STOP_TIMEOUT
) -> bool:
    """Stop the stack of `data_dir`: ask its runner (the `up` process) to stop it in order; if the runner is
    gone or does not finish in time, stop the recorded processes here, services first. False when there
    was no state file."""
    state = read_state(data_dir)
    if state is None:
        return False
    runner = state.get("runner") or {}
    pid, ticks = runner.get("pid"), runner.get("start_ticks")
    if pid and pid != os.getpid() and pid_alive(pid, ticks):
        echo(f"asking the stack runner (pid {pid}) to stop the stack")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid, ticks) and time.monotonic() < deadline:
            time.sleep(0.2)
        if pid_alive(pid, ticks):
            echo(f"the runner did not finish within {timeout:g} s; stopping the processes here")
            os.kill(pid, signal.SIGKILL)
    # What the runner left (it was killed, or it is the case above): services first, then infrastructure.
    state = read_state(data_dir) or {}
    records = list((state.get("processes") or {}).items())
    services = [r for r in records if r[1].get("kind") == "service"][::-1]
    infra = [r for r in records if r[1].get("kind") != "service"][::-1]
    for name, rec in services + infra:
        pid, ticks = rec.get("pid"), rec.get("start_ticks")
        if pid and pid_alive(pid, ticks):
            echo(f"  {name:<16} stopping (pid {pid})")
            stop_group(
                pid,
                stop_signal=rec.get("stop_signal", signal.SIGTERM),
                grace=float(rec.get("grace", 10.0)),
                ticks=ticks,
            )
            echo(f"  {name:<16} stopped")
    remove_state(data_dir)
    return True
