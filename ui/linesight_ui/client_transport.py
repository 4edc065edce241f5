"""What a group of gateway calls (a mixin of `linesight_ui.gateway.GatewayClient`, such as
`client_labels.LabelCalls`) calls on: GatewayClient's transport, declared here for type checkers only."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
# The gateway's own bodies (not in linesight_core.contracts) are read as JSON objects.
Json = dict[str, Any]


def query(**values: Any) -> dict[str, Any]:
    """Query parameters without the unset or empty ones; datetimes as ISO-8601."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or value == "":
            continue
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out


class Transport:
    if TYPE_CHECKING:

        def _send(
            self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any
        ) -> httpx.Response: ...

        def _get(self, path: str, params: Mapping[str, Any] | None = None) -> httpx.Response: ...

        @staticmethod
        def _json(resp: httpx.Response) -> Json: ...

        @staticmethod
        def _parse(kind: type[T] | Any, resp: httpx.Response) -> T: ...
