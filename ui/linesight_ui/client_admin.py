"""The gateway's admin calls: API keys (`/api/v1/api-keys`), users (`/api/v1/users`) and the audit log
(`/api/v1/audit`). A mixin of `linesight_ui.gateway.GatewayClient`, on its transport helpers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from linesight_ui.client_transport import Json, Transport
from linesight_ui.client_transport import query as _query

KEYS, USERS, AUDIT = "/api/v1/api-keys", "/api/v1/users", "/api/v1/audit"


class AdminCalls(Transport):
    # --- API keys ------------------------------------------------------------------------------------

    def api_keys(self, *, include_revoked: bool = False) -> list[Json]:
        """Every key, oldest first, without the keys themselves (id, name, prefix, role, station_ids ...)."""
        params = {"include_revoked": "true"} if include_revoked else None
        return list(self._json(self._get(KEYS, params)).get("items", []))

    def create_api_key(self, name: str, role: str, stations: Sequence[str] | None = None) -> Json:
        """A new key (201): the key's facts and `key`, the key itself, which the gateway shows this once.
        `stations` (ids or names) limit it to those stations; None: every station."""
        body: Json = {"name": name, "role": role}
        if stations:
            body["stations"] = list(stations)
        return self._json(self._send("POST", KEYS, ok=(201,), json=body))

    def revoke_api_key(self, key_id: str) -> Json:
        """Revoke the key: from now on it gets 401."""
        return self._json(self._send("DELETE", f"{KEYS}/{key_id}"))

    # --- users ---------------------------------------------------------------------------------------

    def users(self, *, include_inactive: bool = False) -> list[Json]:
        """Every user by username, without passwords; inactive ones only when asked."""
        params = {"include_inactive": "true"} if include_inactive else None
        return list(self._json(self._get(USERS, params)).get("items", []))

    def create_user(
        self,
        username: str,
        role: str,
        password: str,
        *,
        display_name: str | None = None,
        stations: Sequence[str] | None = None,
    ) -> Json:
        """A new user (201). 409: the username is taken; 422: a username or password the gateway refuses."""
        body: Json = {"username": username, "role": role, "password": password}
        if display_name:
            body["display_name"] = display_name
        if stations:
            body["stations"] = list(stations)
        return self._json(self._send("POST", USERS, ok=(201,), json=body))

    def update_user(self, user_id: str, changes: Mapping[str, Any]) -> Json:
        """Change only the fields given (display_name, role, stations, active, password). A new password
        or `active: false` ends every session the user has."""
        return self._json(self._send("PATCH", f"{USERS}/{user_id}", json=dict(changes)))

    # --- audit log -----------------------------------------------------------------------------------

    def audit_events(
        self,
        *,
        action: str | None = None,
        actor_key_id: str | None = None,
        object_type: str | None = None,
        object_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 50,
        cursor: int | None = None,
    ) -> Json:
        """One page of audit events, newest first: {items, next_cursor}; pass next_cursor as `cursor` for
        the next (older) page. `actor_key_id` is a key's id, or a user's id for a person."""
        params = _query(
            action=action,
            actor_key_id=actor_key_id,
            object_type=object_type,
            object_id=object_id,
            since=since,
            until=until,
            limit=limit,
            cursor=cursor,
        )
        return self._json(self._get(AUDIT, params))
