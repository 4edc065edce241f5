"""Request-scoped dependencies: the settings and the clients the app built at startup, the database session
and the caller (an API key, or a person's session token from POST /api/v1/auth/login) with its role.

The credential is checked by `authenticate_headers`, run by the app's HeaderAuthMiddleware before the
body is read; the route's dependency then finds the principal in the request state. Either credential
comes in either header: `X-API-Key` or `Authorization: Bearer`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import httpx
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from linesight_core.app import ReadinessCheck, app_state
from linesight_core.auth import bearer_token
from linesight_core.clients.inference import InferenceClient
from linesight_core.clients.ocr import OcrClient
from linesight_core.clients.registry import RegistryClient
from linesight_core.db import request_session
from linesight_core.errors import Problem
from linesight_core.storage import ObjectStore
from linesight_gateway.domain.access import Principal, Role, authenticate
from linesight_gateway.domain.inspect_photo import InspectionServices
from linesight_gateway.domain.key_cache import KeyCache
from linesight_gateway.domain.login_throttle import LoginThrottle
from linesight_gateway.domain.people import PeopleDetector
from linesight_gateway.domain.photos import PhotoLimits, PhotoStore
from linesight_gateway.domain.reference_views import ReferenceViews
from linesight_gateway.domain.run_limits import RunLimits
from linesight_gateway.domain.shadow import ShadowQueue
from linesight_gateway.domain.training_baselines import TrainingBaselines
from linesight_gateway.domain.users import authenticate_session, is_session_token
from linesight_gateway.settings import GatewaySettings

API_KEY_HEADER = "X-API-Key"


def run_limits(settings: GatewaySettings) -> RunLimits:
    return RunLimits(
        per_station_per_hour=settings.training_runs_per_station_per_hour,
        per_hour=settings.training_runs_per_hour,
    )


def photo_limits(settings: GatewaySettings) -> PhotoLimits:
    return PhotoLimits(max_bytes=settings.image_max_bytes, max_pixels=settings.image_max_pixels)


def people_detector(settings: GatewaySettings) -> PeopleDetector:
    return PeopleDetector(
        model=settings.people_detector_model,
        alias=settings.people_detector_alias,
        label=settings.people_detector_label,
        confidence=settings.people_detector_confidence,
        timeout=settings.inference_timeout_seconds,
    )


def get_people_detector(request: Request) -> PeopleDetector:
    return people_detector(request.app.state.settings)


def photo_store(request: Request) -> PhotoStore:
    return PhotoStore(request.app.state.store, request.app.state.settings.bucket("images"))


def inspection_services(request: Request) -> InspectionServices:
    state = request.app.state
    settings: GatewaySettings = state.settings
    return InspectionServices(
        store=photo_store(request),
        inference=state.inference,
        limits=photo_limits(settings),
        timeout=settings.inference_timeout_seconds,
        people=people_detector(settings),
        references=state.reference_views,
        baselines=state.training_baselines,
    )


# What create_app and its lifespan put on app.state, each read through one typed dependency.
SessionDep = Annotated[Session, Depends(request_session, scope="function")]
SettingsDep = Annotated[GatewaySettings, Depends(app_state("settings"))]
StoreDep = Annotated[ObjectStore, Depends(app_state("store"))]
RegistryDep = Annotated[RegistryClient, Depends(app_state("registry"))]
InferenceDep = Annotated[InferenceClient, Depends(app_state("inference"))]
OcrDep = Annotated[OcrClient, Depends(app_state("ocr"))]
SessionFactoryDep = Annotated[sessionmaker[Session], Depends(app_state("session_factory"))]
KeyCacheDep = Annotated[KeyCache, Depends(app_state("key_cache"))]
LoginThrottleDep = Annotated[LoginThrottle, Depends(app_state("login_throttle"))]
ReferenceViewsDep = Annotated[ReferenceViews, Depends(app_state("reference_views"))]
TrainingBaselinesDep = Annotated[TrainingBaselines, Depends(app_state("training_baselines"))]
ShadowDep = Annotated[ShadowQueue, Depends(app_state("shadow"))]
StatusClientDep = Annotated[httpx.AsyncClient, Depends(app_state("status_client"))]
PhotoStoreDep = Annotated[PhotoStore, Depends(photo_store)]
InspectionServicesDep = Annotated[InspectionServices, Depends(inspection_services)]
PeopleDetectorDep = Annotated[PeopleDetector, Depends(get_people_detector)]
ReadinessDep = Annotated[dict[str, ReadinessCheck], Depends(app_state("readiness"))]


def _authenticate(conn: HTTPConnection, raw: str) -> Principal | None:
    with conn.app.state.session_factory() as session:
        if is_session_token(raw):
            return authenticate_session(session, raw)  # raises SessionRefused, saying why
        principal = authenticate(session, raw)
        session.commit()  # keep last_used_at even when the request itself fails later
    return principal


async def _principal_from_headers(conn: HTTPConnection) -> Principal:
    """Async: a cached key costs no thread hop; only a cache miss asks the database (in a thread)."""
    raw = conn.headers.get(API_KEY_HEADER) or bearer_token(conn)
    if not raw:
        raise Problem(
            401,
            f"An API key or a session token is needed: send it in the {API_KEY_HEADER} header "
            "(or as Authorization: Bearer). People get a session token from POST /api/v1/auth/login.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    cache = conn.app.state.key_cache
    principal = cache.get(raw)
    if principal is not None:
        return principal
    principal = await run_in_threadpool(_authenticate, conn, raw)
    if principal is None:
        raise Problem(401, "The API key is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"})
    cache.put(raw, principal)
    return principal


async def authenticate_headers(conn: HTTPConnection) -> None:
    """The HeaderAuthMiddleware check of `/api/v1/`."""
    conn.state.principal = await _principal_from_headers(conn)


async def current_principal(request: Request) -> Principal:
    principal = getattr(request.state, "principal", None)
    if isinstance(principal, Principal):
        return principal
    return await _principal_from_headers(request)  # an app built without the middleware


def require(role: Role) -> Callable[..., Principal]:
    async def _dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.role.allows(role):
            raise Problem(
                403,
                f"This needs the {role.value} role or higher; your "
                f"{'account' if principal.is_person else 'key'} has {principal.role.value}.",
            )
        return principal

    _dependency.__name__ = f"require_{role.value}"
    return _dependency


Viewer = Annotated[Principal, Depends(require(Role.viewer))]
Operator = Annotated[Principal, Depends(require(Role.operator))]
Engineer = Annotated[Principal, Depends(require(Role.engineer))]
Admin = Annotated[Principal, Depends(require(Role.admin))]
