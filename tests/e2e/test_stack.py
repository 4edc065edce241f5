"""The whole system as the local stack runs it: every service up and measured, Prometheus scraping each
one under its compose job name, a database outage seen by /ready and recovered from without a restart,
and the command line (`up`, `status`, `down`, Ctrl-C) driving a stack like a developer would."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest

from linesight_devstack import SERVICE_NAMES, free_port_base
from linesight_devstack.process import group_members, pid_alive
from tests.conftest import shared_tmp_dir

DATABASE_SERVICES = ("registry", "gateway")


def ops_url(stack, service: str) -> str:
    """Where /health, /ready and /metrics are served (the ui's ops server, beside Streamlit)."""
    return stack.urls["ui-ops"] if service == "ui" else stack.urls[service]


def wait_for(check, timeout: float, interval: float = 0.5):
    """Call `check` until it returns something truthy; that value, or the last one after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


@pytest.mark.parametrize("service", SERVICE_NAMES)
def test_service_answers_health_ready_and_metrics(stack, service):
    base = ops_url(stack, service)
    health = httpx.get(f"{base}/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["status"] == "ok"
    assert health.json()["service"] == service

    ready = httpx.get(f"{base}/ready", timeout=10)
    assert ready.status_code == 200, ready.text
    assert ready.json()["status"] == "ready"

    metrics = httpx.get(f"{base}/metrics", timeout=10)
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    samples = [line for line in metrics.text.splitlines() if line and not line.startswith("#")]
    assert any(line.startswith("linesight_") for line in samples), metrics.text[:2000]


def test_the_ui_holds_no_credential_and_the_demo_person_signs_in(stack):
    """The UI process gets neither the service token nor a gateway key; the stack's demo person (made by
    the gateway, password in secrets.json) signs in."""
    ui_env = stack.service_env("ui")
    assert "LINESIGHT_SERVICE_TOKEN" not in ui_env and "LINESIGHT_ADMIN_API_KEY" not in ui_env
    username, password = stack.demo_login
    login = httpx.post(
        f"{stack.urls['gateway']}/api/v1/auth/login",
        json={"username": username, "password": password},
        timeout=10,
    )
    assert login.status_code == 200, login.text
    me = httpx.get(
        f"{stack.urls['gateway']}/api/v1/me",
        headers={"Authorization": f"Bearer {login.json()['token']}"},
        timeout=10,
    )
    assert me.json()["role"] == "admin" and me.json()["kind"] == "user"


def test_prometheus_scrapes_every_service_under_its_job_name(stack):
    def targets():
        resp = httpx.get(f"{stack.urls['prometheus']}/api/v1/targets", timeout=10)
        resp.raise_for_status()
        return resp.json()["data"]["activeTargets"]

    def all_up():
        active = targets()
        return active if active and all(t["health"] == "up" for t in active) else None

    active = wait_for(all_up, timeout=60, interval=1) or targets()
    health = {t["labels"]["job"]: (t["health"], t["lastError"]) for t in active}
    assert set(health) == {*SERVICE_NAMES, "prometheus"}
    assert {job: h for job, h in health.items() if h[0] != "up"} == {}
    for target in active:
        job = target["labels"]["job"]
        expected = stack.urls["prometheus"] if job == "prometheus" else ops_url(stack, job)
        assert target["scrapeUrl"] == f"{expected}/metrics"


def test_status_command_shows_every_running_process(stack):
    done = subprocess.run(
        [sys.executable, "-m", "linesight_devstack", "status", "--data-dir", str(stack.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[2:] if line.strip()}
    pids = stack.pids()
    for service in SERVICE_NAMES:
        row = lines[service].split()
        assert row[1:5] == ["service", str(pids[service]), "yes", "ready"], lines[service]
        assert row[5] == stack.urls[service]
    for infra in ("postgres", "redis", "s3", "prometheus"):
        assert lines[infra].split()[1:5] == ["infra", str(pids[infra]), "yes", "listening"]


def test_database_outage_fails_ready_and_recovers_without_a_restart(stack):
    before = {s: stack.pids()[s] for s in SERVICE_NAMES}

    def ready(service):
        return httpx.get(f"{stack.urls[service]}/ready", timeout=10)

    stack.stop_process("postgres")
    try:
        for service in DATABASE_SERVICES:
            resp = wait_for(lambda s=service: (r := ready(s)).status_code == 503 and r, timeout=30)
            assert resp, f"{service} /ready still 200 with Postgres stopped"
            assert resp.headers["content-type"].startswith("application/problem+json")
            body = resp.json()
            assert body["status"] == 503
            assert "database" in body["failed"], body
            assert body["checks"]["database"]["ok"] is False
            health = httpx.get(f"{stack.urls[service]}/health", timeout=10)
            assert health.status_code == 200
        assert ready("ocr-service").status_code == 200  # needs no database
    finally:
        stack.start_process("postgres")

    for service in DATABASE_SERVICES:
        resp = wait_for(lambda s=service: (r := ready(s)).status_code == 200 and r, timeout=30)
        assert resp, f"{service} /ready did not come back within 30 s: {ready(service).text}"
    after = {s: stack.pids()[s] for s in SERVICE_NAMES}
    assert after == before  # recovered on their own: no service was restarted
    assert all(pid_alive(pid) for pid in after.values())


@pytest.fixture
def cli_stack_dir():
    path = shared_tmp_dir("linesight-e2e-cli-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def start_cli_stack(data_dir):
    """`up --only ocr-service` (it needs no infrastructure; Prometheus comes along) in a process of its own."""
    up = subprocess.Popen(
        [
            sys.executable, "-m", "linesight_devstack", "up",
            "--only", "ocr-service",
            "--data-dir", str(data_dir),
            "--port-base", str(free_port_base()),
            "--scrape-interval", "2s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )  # fmt: skip
    state_file = data_dir / "state.json"

    def started():
        if up.poll() is not None:
            raise AssertionError(f"up exited early ({up.returncode}): {up.stdout.read()}")
        if not state_file.exists():
            return None
        state = json.loads(state_file.read_text())
        procs = state["processes"]
        return (
            state
            if "ocr-service" in procs and procs["ocr-service"].get("ready_seconds") is not None
            else None
        )

    state = wait_for(started, timeout=180)
    assert state, "the stack did not come up within 180 s"
    return up, state


def assert_stopped(state):
    for name, rec in state["processes"].items():
        assert not pid_alive(rec["pid"], rec["start_ticks"]), f"{name} still runs"
        assert group_members(rec["pid"]) == [], f"{name} left processes behind"


def test_down_stops_a_stack_started_in_another_terminal(cli_stack_dir):
    up, state = start_cli_stack(cli_stack_dir)
    try:
        assert set(state["processes"]) == {"prometheus", "ocr-service"}
        done = subprocess.run(
            [sys.executable, "-m", "linesight_devstack", "down", "--data-dir", str(cli_stack_dir)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            up.kill()
    output = up.stdout.read()
    assert output.index("ocr-service      stopping") < output.index("prometheus       stopping")
    assert_stopped(state)
    assert not (cli_stack_dir / "state.json").exists()
    status = subprocess.run(
        [sys.executable, "-m", "linesight_devstack", "status", "--data-dir", str(cli_stack_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert status.returncode == 1
    assert "no stack state" in status.stdout


def test_ctrl_c_stops_the_stack(cli_stack_dir):
    up, state = start_cli_stack(cli_stack_dir)
    try:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 0
    finally:
        if up.poll() is None:
            up.kill()
    assert "stopped" in up.stdout.read()
    assert_stopped(state)
