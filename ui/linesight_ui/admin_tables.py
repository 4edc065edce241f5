"""API keys, users and audit events as the tables and words the Admin page shows, and a user's edited
fields as the gateway's PATCH body: pure functions, no Streamlit."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from linesight_ui.tables import when

# The actions the gateway records (its `audit.record` calls); the page's filter also takes any other.
AUDIT_ACTIONS = (
    "api_key.create",
    "api_key.revoke",
    "user.create",
    "user.update",
    "user.login",
    "user.logout",
    "station.create",
    "station.update",
    "station.delete",
    "station.reference_image",
    "feedback.create",
    "feedback.update",
    "dataset.create",
    "dataset.update",
    "dataset.import",
    "dataset.item.add",
    "dataset.item.replace",
    "dataset.item.relabel",
    "dataset.item.delete",
    "dataset.version.create",
    "model.create",
    "model.update",
    "model.alias_move",
    "model.alias_delete",
    "model.pt_upload",
    "model_version.upload",
    "model_version.update",
    "training_run.create",
    "training_run.cancel",
    "replay.create",
    "replay.cancel",
)
EVERY_STATION = "every station"
KEY_COLUMNS = ["name", "prefix", "role", "stations", "created", "last used", "revoked", "id"]
USER_COLUMNS = ["username", "name", "role", "stations", "active", "created", "created by", "last sign-in"]
AUDIT_COLUMNS = ["time", "actor", "action", "object", "object id", "details", "request id"]


def stations_text(station_ids: Sequence[str] | None, names: Mapping[str, str]) -> str:
    """A key's or user's station scope in words: `every station`, or the stations' names."""
    if not station_ids:
        return EVERY_STATION
    return ", ".join(names.get(str(s), str(s)) for s in station_ids)


def key_label(key: Mapping[str, Any]) -> str:
    """`line 3 tablet · lsk_3f9a1c2e · operator`, to pick a key by."""
    return f"{key['name']} · {key['prefix']} · {key['role']}"


def keys_table(keys: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> pd.DataFrame:
    rows = [
        {
            "name": k["name"] + (" (bootstrap)" if k.get("bootstrap") else ""),
            "prefix": k["prefix"],
            "role": k["role"],
            "stations": stations_text(k.get("station_ids"), names),
            "created": when(k["created_at"]),
            "last used": when(k.get("last_used_at")) or "never",
            "revoked": when(k.get("revoked_at")),
            "id": str(k["id"]),
        }
        for k in keys
    ]
    return pd.DataFrame(rows, columns=KEY_COLUMNS)


def user_label(user: Mapping[str, Any]) -> str:
    """`mara (Mara Lindqvist) · operator`, to pick a user by; `, inactive` when so."""
    shown = (
        f" ({user['display_name']})" if user.get("display_name") not in (None, "", user["username"]) else ""
    )
    off = ", inactive" if not user.get("active", True) else ""
    return f"{user['username']}{shown} · {user['role']}{off}"


def users_table(users: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> pd.DataFrame:
    rows = [
        {
            "username": u["username"],
            "name": u["display_name"],
            "role": u["role"],
            "stations": stations_text(u.get("station_ids"), names),
            "active": "yes" if u["active"] else "no",
            "created": when(u["created_at"]),
            "created by": u.get("created_by") or "",
            "last sign-in": when(u.get("last_login_at")) or "never",
        }
        for u in users
    ]
    return pd.DataFrame(rows, columns=USER_COLUMNS)


def user_changes(
    user: Mapping[str, Any], *, display_name: str, role: str, station_ids: Sequence[str], active: bool
) -> dict[str, Any]:
    """The PATCH body for what the admin changed in the form: only the fields that differ (stations as
    ids, an empty list for every station)."""
    changes: dict[str, Any] = {}
    if display_name.strip() and display_name.strip() != user["display_name"]:
        changes["display_name"] = display_name.strip()
    if role != user["role"]:
        changes["role"] = role
    if sorted(station_ids) != sorted(str(s) for s in user.get("station_ids") or []):
        changes["stations"] = list(station_ids)
    if active != user["active"]:
        changes["active"] = active
    return changes


def actor_choices(users: Iterable[Mapping[str, Any]], keys: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Who the audit log can be filtered by: a user's or a key's id -> how the filter names it."""
    choices = {str(u["id"]): f"{u['username']} (user)" for u in users}
    choices.update({str(k["id"]): f"{k['name']} ({k['prefix']}, key)" for k in keys})
    return choices


def details_text(details: Mapping[str, Any] | None) -> str:
    """An event's details on one line: `name=line 3 tablet, role=operator`."""
    if not details:
        return ""
    return ", ".join(f"{k}={_value_text(v)}" for k, v in details.items())


def _value_text(value: Any) -> str:
    if value is None:
        return "none"
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def audit_table(events: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    rows = [
        {
            "time": when(e["at"]),
            "actor": e["actor_name"],
            "action": e["action"],
            "object": e["object_type"],
            "object id": e["object_id"],
            "details": details_text(e.get("details")),
            "request id": e.get("request_id") or "",
        }
        for e in events
    ]
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)
