"""Run LineSight services as real processes for tests and benchmarks (`python -m linesight_<name>`), and
talk to the registry the way an engineer would: create a model, upload ONNX versions, move aliases."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import onnx

from tests.support.servers import free_port


class ServiceProcess:
    """`python -m <module>` on 127.0.0.1 with the given LINESIGHT_* settings; output goes to a log file."""

    def __init__(self, module: str, env: dict[str, str], log_path: Path, port: int | None = None) -> None:
        self.module = module
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        full_env = {
            **os.environ,
            "LINESIGHT_LOG_FORMAT": "console",
            **env,
            "LINESIGHT_HOST": "127.0.0.1",
            "LINESIGHT_PORT": str(self.port),
        }
        self._log = open(log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module], env=full_env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.module} exited ({self.proc.returncode}):\n{self.log_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{self.url}/ready", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.module} not ready in {timeout:g} s:\n{self.log_text()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.proc.returncode


class RegistryAdmin:
    """The registry API calls a test or a benchmark needs."""

    def __init__(self, url: str, token: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def close(self) -> None:
        self.http.close()

    def create_model(self, name: str, task: str) -> None:
        resp = self.http.post("/v1/models", json={"name": name, "task": task})
        assert resp.status_code in (201, 409), resp.text

    def upload(self, name: str, path: Path, **fields: str) -> dict:
        with open(path, "rb") as fh:
            resp = self.http.post(f"/v1/models/{name}/versions", files={"file": ("m.onnx", fh)}, data=fields)
        assert resp.status_code in (200, 201), resp.text
        return resp.json()

    def move(self, name: str, alias: str, version: int) -> dict:
        resp = self.http.put(f"/v1/models/{name}/aliases/{alias}", json={"version": version})
        assert resp.status_code == 200, resp.text
        return resp.json()


def variant(src: Path, out: Path, tag: str) -> Path:
    """The same model with one metadata field changed: other bytes and sha256, the same answers."""
    model = onnx.load(str(src))
    for prop in model.metadata_props:
        if prop.key == "date":
            prop.value = f"variant-{tag}"
    onnx.save(model, str(out))
    return out


def env_for(service_env: dict[str, str], **extra: str) -> dict[str, str]:
    return {**service_env, **{k: str(v) for k, v in extra.items()}}


def problem(resp: httpx.Response) -> dict:
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.text
    return json.loads(resp.content)
