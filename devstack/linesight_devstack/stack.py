"""The whole system as local processes: infrastructure (where no URL is configured), then the six services
with the same `python -m linesight_<name>` commands and LINESIGHT_* settings as compose, each waited for
until its /ready answers 200. Used by `python -m linesight_devstack up` and by the e2e tests."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Self

import httpx

from linesight_devstack.ports import DEFAULT_PORT_BASE, WEED_PORTS, busy_ports, port_map, with_grpc
from linesight_devstack.postgres import PostgresServer
from linesight_devstack.process import ManagedProcess, now_iso, pid_alive, start_ticks
from linesight_devstack.prometheus import DEFAULT_SOURCE, PrometheusServer
from linesight_devstack.redis_server import RedisServer
from linesight_devstack.s3 import S3Server
from linesight_devstack.server import LocalServer, StartError, wait_until_ready
from linesight_devstack.services import (
    DEMO_ROLE,
    DEMO_USERNAME,
    EXTERNAL,
    INFRA,
    SERVICE_GRACE,
    SERVICE_NAMES,
    SERVICES,
    UI_WITHHELD,
    URL_VARS,
    StackError,
    probe_ready,
    resolve_selection,
)
from linesight_devstack.state import load_secrets, read_state, remove_state, write_state


class Stack:
    """`Stack(data_dir, port_base).start()` ... `.stop()`; also a context manager.

    `.urls` has every base URL (services and infrastructure), `.env` the LINESIGHT_* settings every
    service got (`.service_env(name)` the whole environment of one), `.stop_process(name)` and
    `.start_process(name)` stop and start one piece (Postgres, say) while the rest keeps running."""

    def __init__(
        self,
        data_dir: Path | str = ".devstack",
        port_base: int = DEFAULT_PORT_BASE,
        *,
        only: Iterable[str] | None = None,
        ready_timeout: float = 180.0,
        infra_timeout: float = 90.0,
        scrape_interval: str | None = None,
        durable: bool = True,
        environ: Mapping[str, str] | None = None,
        prometheus_source: Path | str | None = DEFAULT_SOURCE,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.port_base = port_base
        self.ports = port_map(port_base)
        self.environ = dict(os.environ if environ is None else environ)
        self.selected = resolve_selection(only)
        self.ready_timeout = ready_timeout
        self.echo = echo or (lambda _line: None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir = self.data_dir / "logs"
        self.secrets = load_secrets(self.data_dir)

        self.servers: dict[str, LocalServer] = {}
        for name in self.selected:
            if name not in INFRA or self.is_external(name):
                continue
            log = self.log_dir / f"{name}.log"
            folder = self.data_dir / name
            port = self.ports[name]
            if name == "postgres":
                server: LocalServer = PostgresServer(
                    folder, port=port, durable=durable, log_path=log, ready_timeout=infra_timeout
                )
            elif name == "redis":
                # A password, as in compose: the services' Redis URLs carry it (redis://:password@...).
                server = RedisServer(
                    folder,
                    port=port,
                    log_path=log,
                    ready_timeout=infra_timeout,
                    password=self.secrets["redis_password"],
                )
            elif name == "s3":
                server = S3Server(
                    folder,
                    port=port,
                    master_port=self.ports["s3-master"],
                    volume_port=self.ports["s3-volume"],
                    filer_port=self.ports["s3-filer"],
                    access_key=self.secrets["s3_access_key"],
                    secret_key=self.secrets["s3_secret_key"],
                    log_path=log,
                    ready_timeout=infra_timeout,
                )
            else:
                server = PrometheusServer(
                    folder,
                    port=port,
                    targets={s: f"127.0.0.1:{self._ready_port(s)}" for s in self.service_names},
                    source_config=prometheus_source,
                    scrape_interval=scrape_interval,
                    log_path=log,
                    ready_timeout=infra_timeout,
                )
            self.servers[name] = server
        self.services: dict[str, ManagedProcess] = {}
        self._ready_seconds: dict[str, float] = {}
        self._started: list[str] = []  # in start order, for a stop in reverse
        self._expected_down: set[str] = set()
        self._reported_exits: set[str] = set()
        self.cancel = threading.Event()  # set by a signal handler: stop waiting, the start is abandoned
        self.abort = threading.Event()  # set by a second signal while stopping: no more grace periods
        self.stopping = False
        self.started_at: str | None = None

    # --- what the stack is made of -----------------------------------------------------------------
    @property
    def service_names(self) -> list[str]:
        return [n for n in SERVICE_NAMES if n in self.selected]

    def is_external(self, name: str) -> bool:
        return name in EXTERNAL and bool(self.environ.get(EXTERNAL[name]))

    def _ready_port(self, service: str) -> int:
        spec = next(s for s in SERVICES if s.name == service)
        return self.ports[spec.ops_port or spec.name]

    def ready_url(self, service: str) -> str:
        return f"http://127.0.0.1:{self._ready_port(service)}/ready"

    @property
    def urls(self) -> dict[str, str]:
        urls = {s: f"http://127.0.0.1:{self.ports[s]}" for s in self.service_names}
        if "ui" in urls:
            urls["ui-ops"] = f"http://127.0.0.1:{self.ports['ui-ops']}"
        for name, server in self.servers.items():
            urls[name] = server.url
        for name, var in EXTERNAL.items():
            if name in self.selected and self.is_external(name):
                urls[name] = self.environ[var]
        return urls

    @property
    def env(self) -> dict[str, str]:
        """The LINESIGHT_* settings shared by every service (ports and names come on top, per service)."""
        e = {k: v for k, v in self.environ.items() if k.startswith("LINESIGHT_")}
        e["LINESIGHT_HOST"] = "127.0.0.1"
        e.setdefault("LINESIGHT_LOG_FORMAT", "console")
        for service, var in URL_VARS.items():
            e[var] = f"http://127.0.0.1:{self.ports[service]}"
        if "postgres" in self.servers:
            e["LINESIGHT_DATABASE_URL"] = self.servers["postgres"].url
        redis_server = self.servers.get("redis")
        if isinstance(redis_server, RedisServer):
            e["LINESIGHT_REDIS_URL"] = redis_server.client_url
        s3 = self.servers.get("s3")
        if isinstance(s3, S3Server):
            e.update(s3.env)
        for var, key in (
            ("LINESIGHT_SERVICE_TOKEN", "service_token"),
            ("LINESIGHT_ADMIN_API_KEY", "admin_api_key"),
        ):
            if not e.get(var) and self.secrets.get(key):
                e[var] = self.secrets[key]
        folders = {
            "LINESIGHT_MODEL_CACHE_DIR": "inference/models",
            "LINESIGHT_METRICS_DIR": "training-worker/metrics",
            "LINESIGHT_YOLO_CONFIG_DIR": "training-worker/ultralytics",
            "LINESIGHT_TRAINING_WORK_DIR": "training-worker/work",
        }
        for var, rel in folders.items():
            e.setdefault(var, str(self.data_dir / rel))
        return e

    def service_env(self, service: str) -> dict[str, str]:
        """The whole environment the service process gets."""
        env = {**self.environ, **self.env, "PYTHONUNBUFFERED": "1"}
        env["LINESIGHT_SERVICE_NAME"] = service
        env["LINESIGHT_PORT"] = str(self.ports[service])
        if service == "ui":
            env["LINESIGHT_OPS_PORT"] = str(self.ports["ui-ops"])
            for var in UI_WITHHELD:
                env.pop(var, None)
        return env

    # --- start -------------------------------------------------------------------------------------
    def _ports_needed(self) -> dict[int, str]:
        needed: dict[int, str] = {}
        for name in self.servers:
            if name == "s3":
                for part in WEED_PORTS:
                    for port in with_grpc([self.ports[part]]):
                        needed[port] = part
            else:
                needed[self.ports[name]] = name
        for service in self.service_names:
            needed[self.ports[service]] = service
            if service == "ui":
                needed[self.ports["ui-ops"]] = "ui-ops"
        return needed

    def start(self) -> Self:
        previous = read_state(self.data_dir)
        if previous and _state_alive(previous):
            raise StackError(
                f"a stack started from {self.data_dir} still runs (see state.json); stop it first: "
                f"python -m linesight_devstack down --data-dir {self.data_dir}"
            )
        needed = self._ports_needed()
        busy = busy_ports(needed)
        if busy:
            taken = ", ".join(f"{p} ({needed[p]})" for p in busy)
            raise StackError(f"port(s) already in use on 127.0.0.1: {taken}; choose another --port-base")
        self.started_at = now_iso()
        try:
            for name in INFRA:
                if name in self.servers:
                    self.start_process(name)
            for name in self.service_names:
                self.start_process(name)
        except BaseException:
            self.stop()
            raise
        return self

    def start_process(self, name: str) -> float:
        """Start one piece (again) and wait until it is ready; seconds it took."""
        if name in self.servers:
            server = self.servers[name]
            self.echo(f"  {name:<16} starting on 127.0.0.1:{server.port}")
            server.start(cancel=self.cancel)
            took = server.ready_seconds or 0.0
        elif name in self.service_names:
            took = self._start_service(name)
        else:
            raise StackError(f"{name} is not part of this stack ({', '.join(self.selected)})")
        self._ready_seconds[name] = took
        self._expected_down.discard(name)
        self._reported_exits.discard(name)
        if name not in self._started:
            self._started.append(name)
        self.echo(f"  {name:<16} ready in {took:.1f} s")
        self.save_state()
        return took

    def _start_service(self, name: str) -> float:
        spec = next(s for s in SERVICES if s.name == name)
        if name == "ui" and "gateway" in self.service_names:
            self._ensure_demo_user()
        workdir = self.data_dir / "run" / name
        workdir.mkdir(parents=True, exist_ok=True)
        proc = ManagedProcess(
            name,
            [sys.executable, "-m", spec.module],
            log_path=self.log_dir / f"{name}.log",
            env=self.service_env(name),
            cwd=workdir,  # whatever a library writes to the working folder stays in the data folder
            stop_signal=signal.SIGTERM,
            grace=SERVICE_GRACE,
        )
        self.services[name] = proc
        self.echo(f"  {name:<16} starting on {self.urls[name]}")
        proc.start()
        self.save_state()
        try:
            return wait_until_ready(
                proc,
                lambda: probe_ready(self.ready_url(name)),
                self.ready_timeout,
                interval=0.5,
                describe=lambda exc: (
                    str(exc) if isinstance(exc, RuntimeError) else f"{type(exc).__name__}: {exc}"
                ),
                cancel=self.cancel,
            )
        except BaseException:
            proc.stop(abort=self.abort)
            raise

    @property
    def demo_login(self) -> tuple[str, str]:
        """The username and password of the person the stack's UI is signed in with."""
        return DEMO_USERNAME, self.secrets["demo_password"]

    def _ensure_demo_user(self) -> None:
        """The demo person (admin) with the password in secrets.json: made by the gateway with the admin
        key, or given that password again when secrets.json changed."""
        gateway = self.urls["gateway"]
        username, password = self.demo_login
        admin = {"X-API-Key": self.env["LINESIGHT_ADMIN_API_KEY"]}
        try:
            login = httpx.post(
                f"{gateway}/api/v1/auth/login", json={"username": username, "password": password}, timeout=10
            )
            if login.status_code == 200:
                return
            users = httpx.get(
                f"{gateway}/api/v1/users", params={"include_inactive": True}, headers=admin, timeout=10
            )
            users.raise_for_status()
            found = next((u for u in users.json()["items"] if u["username"] == username), None)
            if found is None:
                body = {
                    "username": username,
                    "display_name": "Demo admin",
                    "role": DEMO_ROLE,
                    "password": password,
                }
                resp = httpx.post(f"{gateway}/api/v1/users", headers=admin, json=body, timeout=30)
            else:
                body = {"password": password, "active": True}
                resp = httpx.patch(
                    f"{gateway}/api/v1/users/{found['id']}", headers=admin, json=body, timeout=30
                )
        except httpx.HTTPError as exc:
            raise StartError("ui", f"could not make the demo user at the gateway: {exc}") from exc
        if resp.status_code not in (200, 201):
            raise StartError(
                "ui", f"the gateway refused to make the demo user ({resp.status_code}): {resp.text[:300]}"
            )

    # --- stop --------------------------------------------------------------------------------------
    def stop_process(self, name: str) -> None:
        """Stop one piece; the others keep running (and notice, through their /ready)."""
        self._expected_down.add(name)
        if name in self.servers:
            self.servers[name].stop(abort=self.abort)
        elif name in self.services:
            self.services[name].stop(abort=self.abort)
        else:
            raise StackError(f"{name} is not part of this stack ({', '.join(self.selected)})")
        self.echo(f"  {name:<16} stopped")
        self.save_state()

    def stop(self) -> None:
        """Services first (newest first), then the infrastructure; SIGKILL after each grace period."""
        self.stopping = True
        try:
            order = self._started + [n for n in [*self.services, *self.servers] if n not in self._started]
            for name in reversed(order):
                proc = self.process(name)
                if proc is not None and proc.running:
                    self.echo(f"  {name:<16} stopping")
                    self.stop_process(name)
                elif name in self.servers:  # exited or never started: still clear what it left behind
                    self.servers[name].stop(abort=self.abort)
                elif proc is not None:
                    proc.stop(abort=self.abort)
        finally:
            remove_state(self.data_dir)
            self._started.clear()
            self.stopping = False

    def exited(self) -> dict[str, int | None]:
        """Processes that ended without being asked to (each reported once): name -> exit code."""
        gone: dict[str, int | None] = {}
        procs = {**{n: s.process for n, s in self.servers.items()}, **self.services}
        for name, proc in procs.items():
            if proc is None or name in self._expected_down or name in self._reported_exits:
                continue
            if proc.popen is not None and not proc.running:
                gone[name] = proc.returncode
                self._reported_exits.add(name)
        return gone

    def process(self, name: str) -> ManagedProcess | None:
        if name in self.servers:
            return self.servers[name].process
        return self.services.get(name)

    def pids(self) -> dict[str, int | None]:
        return {n: (p.pid if (p := self.process(n)) and p.running else None) for n in self._started}

    # --- state file ----------------------------------------------------------------------------------
    def save_state(self) -> None:
        processes: dict[str, Any] = {}
        for name in [*INFRA, *SERVICE_NAMES]:
            if name in self.servers and self.servers[name].process is not None:
                rec = self.servers[name].record()
            elif name in self.services:
                rec = {
                    **self.services[name].record(),
                    "kind": "service",
                    "port": self.ports[name],
                    "url": self.urls[name],
                    "ready_url": self.ready_url(name),
                }
            else:
                continue
            current = self.process(name)
            rec["running"] = bool(current and current.running)
            if name in self._ready_seconds:
                rec["ready_seconds"] = round(self._ready_seconds[name], 2)
            processes[name] = rec
        write_state(
            self.data_dir,
            {
                "runner": {"pid": os.getpid(), "start_ticks": start_ticks(os.getpid())},
                "data_dir": str(self.data_dir),
                "port_base": self.port_base,
                "started_at": self.started_at,
                "updated_at": now_iso(),
                "urls": self.urls,
                "processes": processes,
            },
        )

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _state_alive(state: Mapping[str, Any]) -> bool:
    """True when the runner or any process recorded in a state file still runs."""
    runner = state.get("runner") or {}
    if (
        runner.get("pid")
        and runner["pid"] != os.getpid()
        and pid_alive(runner["pid"], runner.get("start_ticks"))
    ):
        return True
    return any(
        rec.get("pid") and pid_alive(rec["pid"], rec.get("start_ticks"))
        for rec in (state.get("processes") or {}).values()
    )
