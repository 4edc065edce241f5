"""Sign-in for people: a username and password give a session token (POST /api/v1/auth/login, the one
/api/v1 route without a credential); signing out ends it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from linesight_core.errors import Problem
from linesight_gateway.api.deps import KeyCacheDep, LoginThrottleDep, SessionDep, SettingsDep, Viewer
from linesight_gateway.api.user_schemas import LoginOut, LoginRequest, UserOut
from linesight_gateway.domain import audit
from linesight_gateway.domain.users import check_password, end_session, normalize_username, principal_of
from linesight_gateway.domain.users import start_session as open_session

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
LOGIN_PATH = "/api/v1/auth/login"
# One message for a wrong username and a wrong password: the answer must not tell which names exist.
WRONG_CREDENTIALS = "The username or password is wrong."


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Sign in with a username and password; the session token is shown once",
    responses={401: {"description": "Wrong username or password"}, 429: {"description": "Too many failures"}},
)
def login(
    body: LoginRequest,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    throttle: LoginThrottleDep,
) -> LoginOut:
    username, address = normalize_username(body.username), _client_address(request)
    wait = throttle.retry_after(username, address)
    if wait is not None:
        raise Problem(
            429,
            f"Too many failed sign-ins for this username or from this address; try again in {wait} s.",
            headers={"Retry-After": str(wait)},
        )
    user = check_password(session, username, body.password)
    if user is None:
        throttle.failed(username, address)
        raise Problem(401, WRONG_CREDENTIALS, headers={"WWW-Authenticate": "Bearer"})
    throttle.succeeded(username)
    row, raw = open_session(session, user, hours=settings.session_hours, client_ip=address)
    audit.record(
        session, principal_of(user, row), "user.login", "user", str(user.id), {"session_id": str(row.id)}
    )
    return LoginOut(token=raw, expires_at=row.expires_at, user=UserOut.model_validate(user))


@router.post(
    "/logout",
    status_code=204,
    summary="Sign out: the session this request was made with ends",
    response_class=Response,
)
def logout(principal: Viewer, session: SessionDep, key_cache: KeyCacheDep) -> Response:
    if principal.session_id is None:
        raise Problem(
            400,
            "This request was made with an API key, not a session token; an admin revokes keys with "
            "DELETE /api/v1/api-keys/{key_id}.",
        )
    end_session(session, principal.session_id)
    audit.record(session, principal, "user.logout", "user", str(principal.key_id), {})
    key_cache.forget_key(principal.session_id)
    return Response(status_code=204)
