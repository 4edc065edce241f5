"""API keys and roles: keys are shown once, stored as sha256, and carry one role of a strict ladder.
A person signed in with a password (domain/users.py) acts through the same Principal."""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from linesight_gateway.db.models import ApiKey

log = logging.getLogger(__name__)

KEY_PREFIX = "lsk_"
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most once a minute per key


class Role(StrEnum):
    viewer = "viewer"
    operator = "operator"
    engineer = "engineer"
    admin = "admin"

    @property
    def rank(self) -> int:
        return ROLE_ORDER.index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


ROLE_ORDER = [Role.viewer, Role.operator, Role.engineer, Role.admin]


@dataclass(frozen=True)
class Principal:
    # The API key's id, or for a signed-in person the user's id (the same across their sessions), so
    # the audit log's actor_key_id and every created_by name the key or the person.
    key_id: uuid.UUID
    # The key's name, or the person's username.
    name: str
    role: Role
    # None: every station; otherwise the only stations this key may act at or read about.
    station_ids: frozenset[uuid.UUID] | None = None
    # Set for a signed-in person only: the session the request came with, and when it ends.
    session_id: uuid.UUID | None = None
    display_name: str | None = None
    expires_at: datetime | None = None

    @property
    def is_person(self) -> bool:
        return self.session_id is not None

    @property
    def credential_id(self) -> uuid.UUID:
        """What a revocation names: the key, or the one session."""
        return self.session_id or self.key_id

    @property
    def api_key_id(self) -> uuid.UUID | None:
        """The key's id, None for a person (api_keys.created_by refers to keys only)."""
        return None if self.is_person else self.key_id

    def may_use_station(self, station_id: uuid.UUID | None) -> bool:
        if self.station_ids is None:
            return True
        return station_id is not None and station_id in self.station_ids


def hash_key(raw: str) -> str:
    # Keys are 256-bit random secrets, so a fast hash is enough: nothing to brute-force.
    return hashlib.sha256(raw.encode()).hexdigest()


def new_raw_key() -> tuple[str, str]:
    """A new key and its visible prefix (`lsk_` + 8 characters)."""
    ident = secrets.token_hex(4)
    return f"{KEY_PREFIX}{ident}_{secrets.token_urlsafe(32)}", f"{KEY_PREFIX}{ident}"


def visible_prefix(raw: str) -> str:
    if raw.startswith(KEY_PREFIX) and raw.count("_") >= 2:
        return raw[: len(KEY_PREFIX) + 8]
    return raw[:4] + "…"


def create_key(
    session: Session,
    *,
    name: str,
    role: Role,
    created_by: uuid.UUID | None,
    station_ids: list[uuid.UUID] | None = None,
) -> tuple[ApiKey, str]:
    raw, prefix = new_raw_key()
    key = ApiKey(
        name=name,
        prefix=prefix,
        key_hash=hash_key(raw),
        role=role.value,
        created_by=created_by,
        station_ids=None if station_ids is None else [str(s) for s in station_ids],
    )
    session.add(key)
    session.flush()
    return key, raw


def authenticate(session: Session, raw: str, now: datetime | None = None) -> Principal | None:
    """The principal behind a raw key, or None when the key is unknown or revoked."""
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(raw)))
    if key is None or key.revoked_at is not None:
        return None
    now = now or datetime.now(UTC)
    if key.last_used_at is None or now - key.last_used_at > LAST_USED_RESOLUTION:
        session.execute(update(ApiKey).where(ApiKey.id == key.id).values(last_used_at=now))
    stations = None if key.station_ids is None else frozenset(uuid.UUID(s) for s in key.station_ids)
    return Principal(key_id=key.id, name=key.name, role=Role(key.role), station_ids=stations)


def ensure_bootstrap_admin(session: Session, raw: str) -> ApiKey | None:
    """Make the configured admin key exist; revoke an earlier bootstrap key that no longer matches.
    A revoked bootstrap key stays revoked: revoking it is how an admin retires a leaked key, and a
    restart must not bring it back. A new LINESIGHT_ADMIN_API_KEY makes a new bootstrap key."""
    if not raw:
        return None
    digest = hash_key(raw)
    now = datetime.now(UTC)
    for old in session.scalars(select(ApiKey).where(ApiKey.bootstrap.is_(True), ApiKey.revoked_at.is_(None))):
        if old.key_hash != digest:
            old.revoked_at = now
    key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    if key is None:
        key = ApiKey(
            name="bootstrap admin",
            prefix=visible_prefix(raw),
            key_hash=digest,
            role=Role.admin.value,
            bootstrap=True,
        )
        session.add(key)
    elif key.revoked_at is not None:
        log.warning(
            "LINESIGHT_ADMIN_API_KEY was revoked and stays refused; set a new one to get a working admin key",
            extra={"prefix": key.prefix},
        )
    session.flush()
    return key


def revoke_key(session: Session, key_id: uuid.UUID) -> ApiKey | None:
    key = session.get(ApiKey, key_id)
    if key is None:
        return None
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
    session.flush()
    return key
