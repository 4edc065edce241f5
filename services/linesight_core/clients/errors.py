"""How a client reports what the called service answered."""

from __future__ import annotations

from typing import Any

import httpx

from linesight_core.errors import Problem

# Extension members of a called service's 4xx that its caller passes on: every problem of a refused
# archive or set of labels (`errors`, `error_count`), so the person who sent it sees them all.
PASSED_ON_MEMBERS = ("errors", "error_count")


class UpstreamError(Problem):
    """The called service answered with an error. 4xx answers keep their status, detail and the members
    in PASSED_ON_MEMBERS, so the caller can pass them on; 5xx and transport failures become 502/503/504
    naming the service."""

    def __init__(
        self, service: str, status: int, detail: str, upstream: dict[str, Any] | None = None
    ) -> None:
        upstream = upstream or {}
        # A 4xx passed on keeps the called service's type (a not-found stays not-found, an invalid archive
        # stays invalid-archive); 5xx and transport failures take the type of their own status.
        client_error = isinstance(upstream, dict) and 400 <= status < 500
        passed_on = upstream.get("type") if client_error else None
        members = {k: upstream[k] for k in PASSED_ON_MEMBERS if k in upstream} if client_error else {}
        super().__init__(
            status,
            detail,
            type_=passed_on if isinstance(passed_on, str) and passed_on != "about:blank" else None,
            upstream_service=service,
            **members,
        )
        self.service = service
        self.upstream = upstream


def raise_for_problem(service: str, resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        body = resp.json()
    except ValueError:
        body = {}
    detail = body.get("detail") if isinstance(body, dict) else None
    if 400 <= resp.status_code < 500:
        raise UpstreamError(
            service, resp.status_code, detail or f"{service} answered {resp.status_code}.", body
        )
    raise UpstreamError(
        service, 502, f"{service} failed ({resp.status_code}): {detail or resp.text[:200]}", body
    )


def transport_error(service: str, exc: httpx.HTTPError) -> UpstreamError:
    if isinstance(exc, httpx.TimeoutException):
        return UpstreamError(service, 504, f"{service} did not answer in time.")
    return UpstreamError(service, 503, f"{service} cannot be reached: {type(exc).__name__}.")
