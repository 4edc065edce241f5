"""The inference service boots on real Redis and a real S3 store: /health, /ready naming the dependency
that is down, /metrics, and /v1/runtime behind the service token."""

import signal
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import onnxruntime as ort
import pytest
from fastapi.testclient import TestClient

from linesight_core.storage import ObjectStore
from linesight_inference.domain.execution import CUDA, ProviderUnavailable
from linesight_inference.main import create_app
from linesight_inference.settings import InferenceSettings
from tests.support.servers import free_port
from tests.support.services import ServiceProcess

pytestmark = pytest.mark.integration

TOKEN = "inference-test-token"


class RegistryReadiness:
    """Stands in for the registry's /ready only: inference asks nothing else of it yet."""

    def __init__(self) -> None:
        self.status = 200
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                code = owner.status if self.path == "/ready" else 404
                body = b'{"status": "ready"}' if code == 200 else b'{"status": 503}'
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def registry():
    stand_in = RegistryReadiness()
    yield stand_in
    stand_in.close()


@pytest.fixture
def service_env(redis_url, s3_env, registry, tmp_path):
    return {
        **s3_env,
        "LINESIGHT_REDIS_URL": redis_url,
        "LINESIGHT_S3_BUCKET_PREFIX": f"ls-{uuid.uuid4().hex[:10]}",
        "LINESIGHT_REGISTRY_URL": registry.url,
        "LINESIGHT_SERVICE_TOKEN": TOKEN,
        "LINESIGHT_MODEL_CACHE_DIR": str(tmp_path / "models"),
        "LINESIGHT_LOG_FORMAT": "console",
    }


def settings_from(env: dict, monkeypatch, **overrides) -> InferenceSettings:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return InferenceSettings(**overrides)


def test_ready_when_every_dependency_answers(service_env, monkeypatch):
    settings = settings_from(service_env, monkeypatch)
    with TestClient(create_app(settings)) as client:
        assert client.get("/health").json() == {"status": "ok", "service": "inference", "version": "0.1.0"}
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert set(ready.json()["checks"]) == {"redis", "object_store", "registry"}
    # created at start: the models bucket and the model cache
    assert settings.model_cache_dir.is_dir()
    store = ObjectStore.from_settings(settings)
    store.check(settings.bucket("models"))


def test_not_ready_names_redis_when_it_is_down(service_env, monkeypatch):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    settings = settings_from({**service_env, "LINESIGHT_REDIS_URL": closed}, monkeypatch)
    with TestClient(create_app(settings)) as client:
        resp = client.get("/ready")
        assert resp.status_code == 503
        assert resp.headers["content-type"].startswith("application/problem+json")
        body = resp.json()
        assert body["failed"] == ["redis"]
        assert "redis" in body["detail"]
        assert body["checks"]["object_store"]["ok"] and body["checks"]["registry"]["ok"]


def test_not_ready_while_the_registry_is_not(service_env, registry, monkeypatch):
    settings = settings_from(service_env, monkeypatch)
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        registry.status = 503
        body = client.get("/ready").json()
        assert body["failed"] == ["registry"]
        assert "error" not in body["checks"]["registry"]  # the details are for the other services only
        body = client.get("/ready", headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert "503" in body["checks"]["registry"]["error"]
        registry.close()
        body = client.get("/ready").json()
        assert body["failed"] == ["registry"]
        registry.status = 200  # the fixture closes it again; harmless


def test_runtime_needs_the_service_token_and_reports_onnxruntime(service_env, monkeypatch):
    settings = settings_from(service_env, monkeypatch)
    with TestClient(create_app(settings)) as client:
        missing = client.get("/v1/runtime")
        assert missing.status_code == 401
        assert missing.headers["content-type"].startswith("application/problem+json")
        assert client.get("/v1/runtime", headers={"Authorization": "Bearer wrong"}).status_code == 403
        resp = client.get("/v1/runtime", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 200
        info = resp.json()
        assert info["onnxruntime_version"] == ort.__version__
        assert info["available_providers"] == ort.get_available_providers()
        expected = CUDA if CUDA in ort.get_available_providers() else "CPUExecutionProvider"
        assert info["chosen_provider"] == expected
        assert info["providers"][-1] == "CPUExecutionProvider"
        assert info["model_cache_dir"] == service_env["LINESIGHT_MODEL_CACHE_DIR"]

        metrics = client.get("/metrics").text
        assert 'linesight_http_requests_total{method="GET",route="/v1/runtime",status="401"}' in metrics
        assert 'linesight_http_requests_total{method="GET",route="/v1/runtime",status="200"}' in metrics
        assert f'linesight_inference_execution_provider_info{{provider="{expected}"}} 1.0' in metrics


def test_explicit_provider_preference_and_thread_setting(service_env, monkeypatch):
    settings = settings_from(
        {**service_env, "LINESIGHT_ORT_PROVIDERS": "cpu", "LINESIGHT_ORT_INTRA_OP_THREADS": "2"}, monkeypatch
    )
    with TestClient(create_app(settings)) as client:
        info = client.get("/v1/runtime", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert info["providers"] == ["CPUExecutionProvider"]
    assert info["provider_preference"] == "cpu"
    assert info["intra_op_threads"] == 2


@pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="this host has CUDA")
def test_refuses_to_start_on_cpu_when_cuda_is_required(service_env, monkeypatch):
    settings = settings_from({**service_env, "LINESIGHT_ORT_PROVIDERS": "cuda"}, monkeypatch)
    with pytest.raises(ProviderUnavailable, match="CUDAExecutionProvider"):
        create_app(settings)


def test_python_m_serves_and_stops_on_sigterm(service_env, tmp_path):
    service = ServiceProcess("linesight_inference", service_env, tmp_path / "inference.log")
    try:
        service.wait_ready(timeout=60)
        assert "linesight_http_requests_total" in httpx.get(f"{service.url}/metrics").text
    finally:
        code = service.stop()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells what stopped it
    assert code in (0, -signal.SIGTERM), service.log_text()
    assert "stopped service=inference" in service.log_text()
