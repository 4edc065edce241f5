"""App factory: every FastAPI service gets the same /health, /ready, /metrics, request ids, RED
metrics, problem+json errors and structured logs from here."""

from __future__ import annotations

import asyncio
import hmac
import inspect
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from linesight_core import __version__
from linesight_core.auth import bearer_token, service_token_check
from linesight_core.body_limit import BodyLimitMiddleware, BodyLimits, RouteLimit
from linesight_core.errors import PROBLEM_JSON, install_problem_handlers, problem_body
from linesight_core.header_auth import HeaderAuthMiddleware, HeaderCheck
from linesight_core.logs import configure_logging
from linesight_core.settings import CoreSettings
from linesight_core.telemetry import TelemetryMiddleware, metrics_payload, set_build_info

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Any]  # sync or async; raises (or returns False) when the dependency is down
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

READY_TIMEOUT_SECONDS = 3.0


async def _run_check(check: ReadinessCheck) -> None:
    if inspect.iscoroutinefunction(check):
        result = await asyncio.wait_for(check(), READY_TIMEOUT_SECONDS)
    else:
        result = await asyncio.wait_for(run_in_threadpool(check), READY_TIMEOUT_SECONDS)
    if result is False:
        raise RuntimeError("check returned False")


async def check_readiness(checks: Mapping[str, ReadinessCheck]) -> dict[str, dict[str, Any]]:
    async def one(name: str, check: ReadinessCheck) -> tuple[str, dict[str, Any]]:
        start = time.perf_counter()
        try:
            await _run_check(check)
            return name, {"ok": True, "ms": round((time.perf_counter() - start) * 1000, 1)}
        except TimeoutError:
            return name, {"ok": False, "error": f"no answer within {READY_TIMEOUT_SECONDS:g} s"}
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", reported by name
            return name, {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}

    results = await asyncio.gather(*(one(n, c) for n, c in checks.items()))
    return dict(results)


def app_state(name: str) -> Callable[[Request], Any]:
    """A FastAPI dependency answering `request.app.state.<name>`, what a service's create_app put there;
    a service types it where it declares it: `SettingsDep = Annotated[Settings, Depends(app_state("settings"))]`."""

    def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = f"app_state_{name}"
    return dependency


def readiness_answer(service: str, results: Mapping[str, Mapping[str, Any]]) -> tuple[int, dict[str, Any]]:
    """The /ready answer of every process: 200 with each check, or a 503 problem whose `failed` names the
    dependencies that did not answer. `results` is what check_readiness found (details may be dropped)."""
    failed = sorted(name for name, r in results.items() if not r["ok"])
    if failed:
        body = problem_body(
            503,
            f"Not ready: {', '.join(failed)} did not answer.",
            title="Service not ready",
            instance="/ready",
            failed=failed,
            checks=dict(results),
            service=service,
        )
        return 503, body
    return 200, {"status": "ready", "service": service, "checks": dict(results)}


def _is_service_caller(request: Request, settings: CoreSettings) -> bool:
    expected = settings.service_token.get_secret_value()
    token = bearer_token(request)
    return bool(expected and token and hmac.compare_digest(token.encode(), expected.encode()))


def create_app(
    settings: CoreSettings,
    *,
    title: str,
    description: str = "",
    version: str = __version__,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
    openapi_tags: list[dict[str, Any]] | None = None,
    body_limits: Iterable[RouteLimit] = (),
    header_checks: Sequence[tuple[str, HeaderCheck]] = (),
) -> FastAPI:
    """`body_limits` names the upload routes (every other route gets `max_json_body_bytes`);
    `header_checks` authenticate path prefixes from the headers before the body is read. The internal
    API (`/v1/`) always needs the service token."""
    configure_logging(settings.service_name, settings.log_level, settings.log_format)
    set_build_info(settings.service_name, version)
    checks: dict[str, ReadinessCheck] = dict(readiness or {})

    @asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("starting", extra={"service": settings.service_name, "version": version})
        if lifespan is None:
            yield
        else:
            async with lifespan(app):
                yield
        log.info("stopped", extra={"service": settings.service_name})

    app = FastAPI(
        title=title, description=description, version=version, lifespan=_lifespan, openapi_tags=openapi_tags
    )
    app.state.settings = settings
    app.state.readiness = checks
    install_problem_handlers(app)
    # Added innermost first: telemetry sees (and counts) the 401 and 413 answers of the two guards, and
    # the credentials are checked before the body limit is, so an anonymous caller learns nothing.
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits(settings.max_json_body_bytes, body_limits))
    auth_checks = [*header_checks, ("/v1/", service_token_check(settings.service_token.get_secret_value()))]
    app.add_middleware(HeaderAuthMiddleware, checks=auth_checks)
    app.add_middleware(TelemetryMiddleware)

    @app.get("/health", tags=["operations"], summary="The process is alive")
    async def health() -> dict[str, str]:
        return {"status": "ok", "service": settings.service_name, "version": version}

    @app.get(
        "/ready",
        tags=["operations"],
        summary="Every dependency answers",
        description="`checks` gives each dependency's timing and error text only to callers with the "
        "service token; anyone else sees which dependencies are ok.",
        responses={503: {"description": "A dependency does not answer; `failed` names it"}},
    )
    async def ready(request: Request) -> Response:
        results = await check_readiness(request.app.state.readiness)
        if not _is_service_caller(request, settings):
            # A published port (the gateway's) answers anyone: error texts name internal hosts, ports
            # and buckets, so only the services themselves (with the service token) get them.
            results = {name: {"ok": r["ok"]} for name, r in results.items()}
        status, body = readiness_answer(settings.service_name, results)
        return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON if status != 200 else None)

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics", include_in_schema=True)
    async def metrics() -> Response:
        payload, content_type = metrics_payload()
        return Response(payload, media_type=content_type)

    return app


def run(app: FastAPI | str, settings: CoreSettings, **uvicorn_kwargs: Any) -> None:
    """Serve an app the same way in a container and in the local stack."""
    import uvicorn

    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
        limit_concurrency=settings.http_limit_concurrency,
        timeout_keep_alive=settings.http_keep_alive_seconds,
        h11_max_incomplete_event_size=settings.http_max_header_bytes,
        **uvicorn_kwargs,
    )
