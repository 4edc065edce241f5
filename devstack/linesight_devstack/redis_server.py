"""A private redis-server on 127.0.0.1: no RDB snapshots, no AOF (the broker and event bus keep nothing
worth keeping across a restart of the local stack), and optionally a password, as in compose."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import quote

from linesight_devstack.server import LocalServer


def find_redis_server(explicit: str | Path | None = None) -> str:
    found = str(explicit) if explicit else shutil.which("redis-server")
    if not found:
        raise FileNotFoundError("redis-server not found: install redis-server (scripts/bootstrap.sh does)")
    return found


def _command(*words: bytes) -> bytes:
    return b"*%d\r\n" % len(words) + b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words)


def redis_ping(host: str, port: int, timeout: float = 2.0, password: str | None = None) -> None:
    """One PING in the Redis protocol (after AUTH when a password is given); raises unless it is +PONG."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        expected = b"+PONG\r\n"
        if password:
            s.sendall(_command(b"AUTH", password.encode()))
            expected = b"+OK\r\n" + expected
        s.sendall(_command(b"PING"))
        answer = b""
        while len(answer) < len(expected) and not answer.startswith(b"-"):
            chunk = s.recv(64)
            if not chunk:
                break
            answer += chunk
    if not answer.startswith(expected):
        raise RuntimeError(f"PING answered {answer[:60]!r}")


class RedisServer(LocalServer):
    """`RedisServer(folder, port=..., password=...)`: `.url` is `redis://127.0.0.1:<port>/0` (shown in
    `status` and state.json), `.client_url` the same with the password, for the services.

    The password goes into a 0600 config file in the folder, not on the command line, where any local
    user could read it."""

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
        password: str | None = None,
    ) -> None:
        super().__init__(data_dir, port=port, log_path=log_path, ready_timeout=ready_timeout)
        self.binary = find_redis_server(binary)
        self.password = password or None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def client_url(self) -> str:
        if not self.password:
            return self.url
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "redis.conf"

    def prepare(self) -> None:
        super().prepare()
        if self.password:
            fd = os.open(self.config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(f'requirepass "{self.password}"\n')
        else:
            self.config_path.unlink(missing_ok=True)

    def command(self) -> list[str]:
        config = [str(self.config_path)] if self.password else []  # a config file must come first
        return [
            self.binary,
            *config,
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
        redis_ping("127.0.0.1", self.port, password=self.password)
