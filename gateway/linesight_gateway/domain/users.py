"""People who sign in with a username and password: argon2id password hashes (argon2-cffi), sessions
whose tokens are shown once and stored as sha256, with an expiry, revocable one by one or all at once."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from linesight_core.errors import Conflict, Problem
from linesight_gateway.db.models import User, UserSession
from linesight_gateway.domain.access import Principal, Role

SESSION_PREFIX = "lss_"
# argon2-cffi's defaults are RFC 9106's second recommended argon2id profile (64 MiB, 3 passes).
_hasher = PasswordHasher()
# Verified when the username is unknown or inactive, so a wrong username costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class SessionRefused(Problem):
    """401: the session token is unknown, expired or was ended."""

    def __init__(self, detail: str) -> None:
        super().__init__(401, detail, headers={"WWW-Authenticate": "Bearer"})


def hash_token(raw: str) -> str:
    # Session tokens are 256-bit random secrets: a fast hash is enough, as for API keys.
    return hashlib.sha256(raw.encode()).hexdigest()


def is_session_token(raw: str) -> bool:
    return raw.startswith(SESSION_PREFIX)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def normalize_username(username: str) -> str:
    return username.strip().lower()


def create_user(
    session: Session,
    *,
    username: str,
    display_name: str | None,
    role: Role,
    password: str,
    station_ids: list[uuid.UUID] | None,
    created_by: str,
) -> User:
    name = normalize_username(username)
    if session.scalar(select(User.id).where(User.username == name)) is not None:
        raise Conflict(f"The username {name!r} is taken; pick another.")
    user = User(
        username=name,
        display_name=(display_name or "").strip() or name,
        role=role.value,
        station_ids=None if station_ids is None else [str(s) for s in station_ids],
        active=True,
        password_hash=hash_password(password),
        created_by=created_by,
    )
    session.add(user)
    session.flush()
    return user


def check_password(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None (in about the same time either way)."""
    user = session.scalar(select(User).where(User.username == normalize_username(username)))
    stored = user.password_hash if user is not None and user.active else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def start_session(
    session: Session, user: User, *, hours: float, client_ip: str | None
) -> tuple[UserSession, str]:
    raw = SESSION_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    row = UserSession(
        user_id=user.id,
        token_hash=hash_token(raw),
        expires_at=now + timedelta(hours=hours),
        client_ip=client_ip,
    )
    user.last_login_at = now
    session.add(row)
    session.flush()
    return row, raw


def principal_of(user: User, row: UserSession) -> Principal:
    stations = None if user.station_ids is None else frozenset(uuid.UUID(s) for s in user.station_ids)
    return Principal(
        key_id=user.id,
        name=user.username,
        role=Role(user.role),
        station_ids=stations,
        session_id=row.id,
        display_name=user.display_name,
        expires_at=row.expires_at,
    )


def authenticate_session(session: Session, raw: str, now: datetime | None = None) -> Principal:
    """The person behind a session token; SessionRefused says why not (unknown, ended, expired)."""
    found = session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.token_hash == hash_token(raw))
    ).first()
    if found is None:
        raise SessionRefused("The session token is unknown; sign in again.")
    row, user = found
    now = now or datetime.now(UTC)
    if row.revoked_at is not None or not user.active:
        raise SessionRefused("The session was ended (signed out, or revoked by an admin); sign in again.")
    if row.expires_at <= now:
        raise SessionRefused(f"The session expired at {row.expires_at.isoformat()}; sign in again.")
    return principal_of(user, row)


def end_session(session: Session, session_id: uuid.UUID) -> None:
    session.execute(
        update(UserSession)
        .where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


def end_all_sessions(session: Session, user_id: uuid.UUID) -> list[uuid.UUID]:
    """Revoke every open session of the user; their ids."""
    ended = session.scalars(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
        .returning(UserSession.id)
    )
    return list(ended)
