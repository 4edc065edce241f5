"""RFC 9457 problem details: the one error shape of every LineSight API."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError as DBAPIDataError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from linesight_core.logs import request_id_var

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)

# Every problem's `type` is one of these URIs (listed in docs/architecture.md, section "Errors"), so a
# client branches on `type` rather than on the prose of `detail`. A Problem raised without a type gets
# the one of its status here; a status not listed keeps RFC 9457's "about:blank".
PROBLEM_TYPE_BASE = "https://linesight.dev/problems/"
STATUS_TYPES: dict[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "too-large",
    415: "unsupported-media-type",
    422: "invalid-request",
    429: "too-many-requests",
    500: "internal",
    502: "upstream",
    503: "unavailable",
    504: "upstream-timeout",
}


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_BASE + slug


def status_type(status: int) -> str:
    slug = STATUS_TYPES.get(status)
    return problem_type(slug) if slug else "about:blank"


class Problem(Exception):
    """Raise to answer with a problem+json body. `extra` becomes extension members."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_ or status_type(status)
        self.headers = headers
        self.extra = extra


class NotFound(Problem):
    """404: there is no `kind` with this key. `by` says how the key names it: "id" (the default) reads
    "There is no station with id 42.", "name" reads "There is no station named 'a'.", None reads
    "There is no training run 42."."""

    def __init__(self, kind: str, key: object, *, by: str | None = "id") -> None:
        if by == "name":
            detail = f"There is no {kind} named {key!r}."
        elif by:
            detail = f"There is no {kind} with {by} {key}."
        else:
            detail = f"There is no {kind} {key}."
        super().__init__(404, detail)
        self.kind = kind
        self.key = key


class Conflict(Problem):
    """409: the request is valid but the current state refuses it (a name taken, a run already finished)."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(409, detail, **extra)


class Unavailable(Problem):
    """503: a dependency or a setting this request needs is missing now; retrying later may work."""

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(503, detail, headers=headers, **extra)


def problem_body(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    type_: str | None = None,
    instance: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": type_ or status_type(status),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    rid = request_id_var.get()
    if rid:
        body["request_id"] = rid
    body.update(extra)
    return body


def problem_response(
    request: Request, status: int, detail: str, *, headers: dict[str, str] | None = None, **kw: Any
) -> JSONResponse:
    return JSONResponse(
        problem_body(status, detail, instance=request.url.path, **kw),
        status_code=status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )


def has_body(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if (name == b"content-length" and value.strip() != b"0") or name == b"transfer-encoding":
            return True
    return False


async def send_problem(scope: Scope, receive: Receive, send: Send, exc: Problem) -> None:
    """Answer from an ASGI middleware, before the app runs. A connection whose request carries a body is
    closed afterwards: the body was not read, and draining it would cost what the answer saves."""
    headers = dict(exc.headers or {})
    if has_body(scope):
        headers["Connection"] = "close"
    response = JSONResponse(
        problem_body(
            exc.status, exc.detail, title=exc.title, type_=exc.type, instance=scope.get("path"), **exc.extra
        ),
        status_code=exc.status,
        media_type=PROBLEM_JSON,
        headers=headers,
    )
    await response(scope, receive, send)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        out.append(
            {
                "loc": [str(p) for p in err.get("loc", ())],
                "msg": err.get("msg", ""),
                "type": err.get("type", ""),
            }
        )
    return out


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request,
            exc.status,
            exc.detail,
            title=exc.title,
            type_=exc.type,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return problem_response(request, exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        summary = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors[:5])
        return problem_response(
            request, 422, f"The request is not valid: {summary}", title="Invalid request", errors=errors
        )

    @app.exception_handler(DBAPIDataError)
    async def _data(request: Request, exc: DBAPIDataError) -> JSONResponse:
        # The database refused a value the request carried (a NUL character, a number out of range).
        reason = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
        return problem_response(request, 422, f"The request carries a value that cannot be stored: {reason}.")

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            request, 500, "An internal error occurred; the request id identifies it in the logs."
        )
