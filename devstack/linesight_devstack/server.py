"""The shape every local infrastructure server shares: prepare its folder, start one process, wait until a
probe answers, stop it. Each one is a context manager and can be used alone (integration tests do)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from linesight_devstack.ports import busy_ports, free_port
from linesight_devstack.process import ManagedProcess


class StartCancelled(RuntimeError):
    """Start was interrupted (Ctrl-C, SIGTERM) before the process was ready."""


class StartError(RuntimeError):
    """A process did not come up: why, and the end of its log."""

    def __init__(self, name: str, reason: str, log_tail: str = "", log_path: Path | None = None) -> None:
        self.name = name
        self.reason = reason
        self.log_tail = log_tail
        self.log_path = log_path
        text = f"{name} did not start: {reason}"
        if log_tail:
            where = f" ({log_path})" if log_path else ""
            text += f"\n--- last lines of its log{where} ---\n{log_tail}"
        super().__init__(text)


def wait_until_ready(
    process: ManagedProcess,
    probe: Callable[[], Any],
    timeout: float,
    *,
    interval: float = 0.25,
    describe: Callable[[Exception], str] = lambda exc: f"{type(exc).__name__}: {exc}",
    cancel: threading.Event | None = None,
) -> float:
    """Call `probe` until it returns without raising; seconds it took. Fails fast if the process exits,
    stops waiting when `cancel` is set."""
    start = time.monotonic()
    last = "no answer yet"
    while True:
        if cancel is not None and cancel.is_set():
            raise StartCancelled(f"{process.name}: start interrupted")
        if not process.running:
            raise StartError(
                process.name,
                f"the process exited with code {process.returncode} (last probe: {last})",
                process.log_tail(),
                process.log_path,
            )
        try:
            probe()
            return time.monotonic() - start
        except Exception as exc:  # noqa: BLE001 - any failure means "not yet"; the last one is reported
            last = describe(exc)
        if time.monotonic() - start > timeout:
            raise StartError(
                process.name, f"not ready after {timeout:g} s: {last}", process.log_tail(), process.log_path
            )
        if cancel is not None:
            cancel.wait(interval)
        else:
            time.sleep(interval)


class LocalServer:
    """Base class: subclasses give `command()` and `probe()`, and may override the other hooks."""

    name = "server"
    stop_signal: int = signal.SIGTERM
    grace = 10.0
    default_ready_timeout = 60.0

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        log_path: Path | str | None = None,
        ready_timeout: float | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port = port or free_port()
        self.log_path = Path(log_path).absolute() if log_path else self.data_dir / f"{self.name}.log"
        self.ready_timeout = ready_timeout or self.default_ready_timeout
        self.process: ManagedProcess | None = None
        self.ready_seconds: float | None = None

    # --- hooks -------------------------------------------------------------------------------------
    def ports(self) -> list[int]:
        """Every port the process will listen on (checked free before it starts)."""
        return [self.port]

    def prepare(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        raise NotImplementedError

    def process_options(self) -> dict[str, Any]:
        """Extra ManagedProcess arguments (env, cwd, user)."""
        return {"cwd": self.data_dir}

    def probe(self) -> None:
        """Return when the server answers; raise otherwise."""
        raise NotImplementedError

    def after_ready(self) -> None:
        """First-start work that needs the server up (creating a database)."""

    def cleanup(self) -> None:
        """Runs after the process stopped."""

    @property
    def url(self) -> str:
        raise NotImplementedError

    # --- lifecycle ---------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.process is not None and self.process.running

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def start(self, *, cancel: threading.Event | None = None) -> Self:
        if self.running:
            return self
        busy = busy_ports(self.ports())
        if busy:
            raise StartError(
                self.name, f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 are already in use"
            )
        self.prepare()
        self.process = ManagedProcess(
            self.name,
            self.command(),
            log_path=self.log_path,
            stop_signal=self.stop_signal,
            grace=self.grace,
            **self.process_options(),
        )
        self.process.start()
        try:
            self.ready_seconds = wait_until_ready(self.process, self.probe, self.ready_timeout, cancel=cancel)
            self.after_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, *, abort: threading.Event | None = None) -> None:
        if self.process is None:
            return
        self.process.stop(abort=abort)
        self.cleanup()

    def record(self) -> dict[str, Any]:
        rec = self.process.record() if self.process else {}
        return {**rec, "kind": "infra", "port": self.port, "url": self.url}

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
