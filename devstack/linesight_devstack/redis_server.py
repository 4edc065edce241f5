"""A private redis-server on 127.0.0.1: no RDB snapshots, no AOF (the broker and event bus keep nothing
worth keeping across a restart of the local stack)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

from linesight_devstack.server import LocalServer


def find_redis_server(explicit: str | Path | None = None) -> str:
    found = str(explicit) if explicit else shutil.which("redis-server")
    if not found:
        raise FileNotFoundError("redis-server not found: install redis-server (scripts/bootstrap.sh does)")
    return found


def redis_ping(host: str, port: int, timeout: float = 2.0) -> None:
    """One PING in the Redis protocol; raises unless the answer is +PONG."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(b"*1\r\n$4\r\nPING\r\n")
        answer = s.recv(64)
    if not answer.startswith(b"+PONG"):
        raise RuntimeError(f"PING answered {answer[:60]!r}")


class RedisServer(LocalServer):
    """`RedisServer(folder, port=...)`: `.url` is `redis://127.0.0.1:<port>/0`."""

    name = "redis"
    grace = 10.0
    default_ready_timeout = 30.0

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        binary: str | Path | None = None,
        log_path: Path | str | None = None,
        ready_timeout: float | None = None,
    ) -> None:
        super().__init__(data_dir, port=port, log_path=log_path, ready_timeout=ready_timeout)
        self.binary = find_redis_server(binary)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.data_dir),
            "--daemonize", "no",
            "--logfile", "",
        ]  # fmt: skip

    def probe(self) -> None:
        redis_ping("127.0.0.1", self.port)
