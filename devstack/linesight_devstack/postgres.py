"""A private Postgres cluster: initdb once into its folder, trust auth on 127.0.0.1 only, one database.

Postgres refuses to run as root; when we are root (CI, containers) the server and initdb run as the
`postgres` system user and the cluster folder belongs to it."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from linesight_devstack.server import LocalServer, StartError

SYSTEM_USER = "postgres"


def find_pg_bin(explicit: str | Path | None = None) -> Path:
    """The folder with initdb and postgres: given, $LINESIGHT_DEVSTACK_PG_BIN, PATH, or the newest
    /usr/lib/postgresql/<version>/bin (Debian puts the server binaries there, off PATH)."""
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit))
    if os.environ.get("LINESIGHT_DEVSTACK_PG_BIN"):
        candidates.append(Path(os.environ["LINESIGHT_DEVSTACK_PG_BIN"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)  # /usr/local/bin/initdb may be a link

    def version(p: Path) -> int:
        match = re.search(r"/(\d+)/bin$", str(p))
        return int(match.group(1)) if match else 0

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "postgres", "psql")):
            return folder
    raise FileNotFoundError(
        "Postgres binaries (initdb, postgres, psql in one folder) not found: install postgresql "
        "(scripts/bootstrap.sh does) or set LINESIGHT_DEVSTACK_PG_BIN to their folder"
    )


def _untraversable_ancestor(path: Path, uid: int, gids: set[int]) -> Path | None:
    """The first folder above `path` that user `uid` may not enter, or None."""
    for folder in reversed(path.parents):
        st = folder.stat()
        if st.st_uid == uid:
            ok = st.st_mode & 0o100
        elif st.st_gid in gids:
            ok = st.st_mode & 0o010
        else:
            ok = st.st_mode & 0o001
        if not ok:
            return folder
    return None


class PostgresServer(LocalServer):
    """`PostgresServer(folder, port=...)`: the cluster lives in `folder`; `.url` is a SQLAlchemy URL."""

    name = "postgres"
    stop_signal = signal.SIGINT  # Postgres's "fast" shutdown: roll back open transactions, then exit
    grace = 30.0

    def __init__(
        self,
        data_dir: Path | str,
        *,
        port: int | None = None,
        user: str = "linesight",
        database: str = "linesight",
        durable: bool = True,
        bin_dir: str | Path | None = None,
        log_path: Path | str | None = None,
        ready_timeout: float | None = None,
    ) -> None:
        # beside the cluster folder, not in it: initdb wants that folder empty, and it belongs to Postgres
        log_path = log_path or Path(data_dir).absolute().parent / f"{self.name}.log"
        super().__init__(data_dir, port=port, log_path=log_path, ready_timeout=ready_timeout)
        self.user = user
        self.database = database
        self.durable = durable
        self.bin_dir = find_pg_bin(bin_dir)
        self.system_user = SYSTEM_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of the database."""
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{self.database}"

    @property
    def dsn(self) -> str:
        """libpq URL of the database (psql, psycopg.connect)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run_as(self) -> dict[str, Any]:
        if self.system_user is None:
            return {}
        return {"user": self.system_user, "group": self.system_user, "extra_groups": []}

    def prepare(self) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        if self.system_user is not None:
            account = pwd.getpwnam(self.system_user)
            gids = {account.pw_gid, *os.getgrouplist(self.system_user, account.pw_gid)}
            blocked = _untraversable_ancestor(self.data_dir, account.pw_uid, gids)
            if blocked is not None:
                raise StartError(
                    self.name,
                    f"Postgres runs as the '{self.system_user}' user (we are root) and cannot enter {blocked}; "
                    f"use a data folder it can reach or allow it (chmod o+x {blocked})",
                )
            self.data_dir.mkdir(mode=0o700, exist_ok=True)
            if self.data_dir.stat().st_uid != account.pw_uid:
                for path in [self.data_dir, *self.data_dir.rglob("*")]:
                    os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()

    def _initdb(self) -> None:
        argv = [
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            self.user,
            "--auth=trust",  # reachable on 127.0.0.1 only (listen_addresses), no Unix socket at all
            "-E",
            "UTF8",
            "--locale=C",
        ]
        if not self.durable:
            argv.append("--no-sync")
        done = subprocess.run(
            argv,
            cwd=self.data_dir.parent,
            capture_output=True,
            text=True,
            check=False,
            **self._run_as(),
        )
        with open(self.log_path, "a") as log:
            log.write(f"===== initdb: {' '.join(argv)}\n{done.stdout}{done.stderr}")
        if done.returncode != 0:
            raise StartError(self.name, f"initdb failed (exit code {done.returncode})", done.stderr[-3000:])

    def command(self) -> list[str]:
        argv = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "unix_socket_directories=",
            "-c",
            "max_connections=200",
        ]
        if not self.durable:  # test clusters: nothing to keep after a crash, speed matters
            for setting in ("fsync=off", "synchronous_commit=off", "full_page_writes=off"):
                argv += ["-c", setting]
        return argv

    def process_options(self) -> dict[str, Any]:
        return {"cwd": self.data_dir, "user": self.system_user}

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run one SQL statement with psql (a client: fine as root) and return its unaligned output."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                self.user,
                "-d",
                database,
                "-tAc",
                sql,
            ],
            capture_output=True,
            text=True,
            timeout=15,
            env={**os.environ, "PGCONNECT_TIMEOUT": "2"},
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(done.stderr.strip() or f"psql exited with code {done.returncode}")
        return done.stdout.strip()

    def probe(self) -> None:
        self.psql("SELECT 1")

    def after_ready(self) -> None:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", self.database):
            raise StartError(self.name, f"unusable database name {self.database!r}")
        if self.psql(f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'") != "1":
            self.psql(f'CREATE DATABASE "{self.database}"')
