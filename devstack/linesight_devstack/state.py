"""Files the local stack keeps in its data folder: secrets.json (generated once, kept across restarts) and
state.json (what runs now: pids, ports, URLs, start times; read by `status` and `down`)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from linesight_devstack.s3 import new_access_key, new_secret_key

SECRETS_FILE = "secrets.json"
STATE_FILE = "state.json"

GENERATORS: dict[str, Callable[[], str]] = {
    "service_token": lambda: secrets.token_hex(32),
    "admin_api_key": lambda: secrets.token_hex(32),
    "s3_access_key": new_access_key,
    "s3_secret_key": new_secret_key,
    "redis_password": lambda: secrets.token_hex(32),
    "demo_password": lambda: secrets.token_urlsafe(12),
}


def write_json_atomic(path: Path, data: Mapping[str, Any], mode: int = 0o600) -> None:
    """Write to a temporary file beside `path`, then rename: a reader never sees half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def load_secrets(data_dir: Path) -> dict[str, str]:
    """The stack's secrets, generating (and saving) the ones missing from secrets.json."""
    path = data_dir / SECRETS_FILE
    stored = read_json(path) or {}
    changed = False
    for name, make in GENERATORS.items():
        if not stored.get(name):
            stored[name] = make()
            changed = True
    if changed:
        write_json_atomic(path, stored)
    return stored


def save_secret(data_dir: Path, name: str, value: str) -> None:
    path = data_dir / SECRETS_FILE
    stored = read_json(path) or {}
    stored[name] = value
    write_json_atomic(path, stored)


def read_state(data_dir: Path) -> dict[str, Any] | None:
    return read_json(data_dir / STATE_FILE)


def write_state(data_dir: Path, state: Mapping[str, Any]) -> None:
    write_json_atomic(data_dir / STATE_FILE, state, mode=0o644)


def remove_state(data_dir: Path) -> None:
    try:
        (data_dir / STATE_FILE).unlink()
    except FileNotFoundError:
        pass
