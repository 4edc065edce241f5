"""What the local stack runs: the services in start order, what each needs, the infrastructure names,
and how a /ready answer is read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    module: str
    # what must run for the service to be ready and useful (`--only` starts these too)
    needs: tuple[str, ...] = ()
    # the port of /health, /ready and /metrics when it is not the service port (ui's ops server)
    ops_port: str | None = None


# In start order: each one's readiness may depend on the ones before it.
SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("registry", "linesight_registry", ("postgres", "redis", "s3")),
    ServiceSpec("inference", "linesight_inference", ("redis", "s3", "registry")),
    ServiceSpec("ocr-service", "linesight_ocr"),
    ServiceSpec(
        "gateway", "linesight_gateway", ("postgres", "redis", "s3", "registry", "inference", "ocr-service")
    ),
    ServiceSpec("training-worker", "linesight_training", ("redis", "s3", "registry")),
    ServiceSpec("ui", "linesight_ui", ("gateway",), ops_port="ui-ops"),
)
SERVICE_NAMES = tuple(s.name for s in SERVICES)
INFRA = ("postgres", "redis", "s3", "prometheus")
# infrastructure configured in the environment is used as it is, not started
EXTERNAL = {
    "postgres": "LINESIGHT_DATABASE_URL",
    "redis": "LINESIGHT_REDIS_URL",
    "s3": "LINESIGHT_S3_ENDPOINT",
}
URL_VARS = {
    "registry": "LINESIGHT_REGISTRY_URL",
    "inference": "LINESIGHT_INFERENCE_URL",
    "ocr-service": "LINESIGHT_OCR_URL",
    "gateway": "LINESIGHT_GATEWAY_URL",
    "training-worker": "LINESIGHT_TRAINING_WORKER_URL",
}
SERVICE_GRACE = 20.0  # uvicorn drains for up to 10 s; Celery finishes the task at hand (warm shutdown)
# The person the local stack signs in to its UI with (the UI holds no credential of its own); the
# password is generated into secrets.json.
DEMO_USERNAME = "demo"
DEMO_ROLE = "admin"  # every page of the UI
# Settings the UI process must not get: it calls the gateway as the signed-in person only.
UI_WITHHELD = ("LINESIGHT_SERVICE_TOKEN", "LINESIGHT_ADMIN_API_KEY")


class StackError(RuntimeError):
    pass


def resolve_selection(only: Iterable[str] | None) -> list[str]:
    """Names to run, in start order: the ones asked for plus what they need; everything when None."""
    if not only:
        return [*INFRA, *SERVICE_NAMES]
    known = set(INFRA) | set(SERVICE_NAMES)
    asked = [n.strip() for n in only if n.strip()]
    unknown = sorted(set(asked) - known)
    if unknown:
        raise StackError(
            f"unknown name(s) {', '.join(unknown)}; choose from {', '.join([*INFRA, *SERVICE_NAMES])}"
        )
    needs = {s.name: s.needs for s in SERVICES}
    chosen: set[str] = set()
    todo = list(asked)
    while todo:
        name = todo.pop()
        if name not in chosen:
            chosen.add(name)
            todo.extend(needs.get(name, ()))
    if chosen & set(SERVICE_NAMES):
        chosen.add("prometheus")
    return [n for n in (*INFRA, *SERVICE_NAMES) if n in chosen]


def readiness_summary(resp: httpx.Response) -> str:
    """`503, failed: database (OperationalError: ...)` from a problem+json /ready answer."""
    try:
        body = resp.json()
    except ValueError:
        return f"/ready answered {resp.status_code}: {resp.text[:200]}"
    failed = body.get("failed") or []
    checks = body.get("checks") or {}
    details = "; ".join(f"{n} ({(checks.get(n) or {}).get('error', '?')})" for n in failed)
    return f"/ready answered {resp.status_code}, failed: {details or body.get('detail', '?')}"


def probe_ready(url: str, timeout: float = 5.0) -> None:
    resp = httpx.get(url, timeout=timeout)
    if resp.status_code != 200:
        raise RuntimeError(readiness_summary(resp))
