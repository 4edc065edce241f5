"""Users (admin): people who sign in with a password. Deactivating a user or resetting their password
ends every session they have."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from sqlalchemy import select

from linesight_core.errors import NotFound, Problem
from linesight_gateway.api.deps import Admin, KeyCacheDep, SessionDep
from linesight_gateway.api.user_schemas import UserCreate, UserList, UserOut, UserUpdate
from linesight_gateway.db.models import User
from linesight_gateway.domain import audit
from linesight_gateway.domain.access import Role
from linesight_gateway.domain.station_scope import resolve_stations
from linesight_gateway.domain.users import create_user as add_user
from linesight_gateway.domain.users import end_all_sessions, hash_password

router = APIRouter(prefix="/api/v1/users", tags=["users"])
ADMIN_SCOPE = "An admin acts everywhere; station scoping is for the other roles."


@router.post("", response_model=UserOut, status_code=201, summary="Create a user with a password")
def create_user(body: UserCreate, principal: Admin, session: SessionDep) -> UserOut:
    station_ids = None
    if body.stations is not None:
        if body.role is Role.admin:
            raise Problem(422, ADMIN_SCOPE)
        station_ids = resolve_stations(session, body.stations)
    user = add_user(
        session,
        username=body.username,
        display_name=body.display_name,
        role=body.role,
        password=body.password,
        station_ids=station_ids,
        created_by=principal.name,
    )
    audit.record(
        session,
        principal,
        "user.create",
        "user",
        str(user.id),
        {"username": user.username, "role": user.role, "station_ids": user.station_ids},
    )
    session.flush()
    session.refresh(user)
    return UserOut.model_validate(user)


@router.get("", response_model=UserList, summary="List users (never their passwords)")
def list_users(principal: Admin, session: SessionDep, include_inactive: bool = False) -> UserList:
    stmt = select(User).order_by(User.username)
    if not include_inactive:
        stmt = stmt.where(User.active.is_(True))
    return UserList(items=[UserOut.model_validate(u) for u in session.scalars(stmt)])


@router.get("/{user_id}", response_model=UserOut, summary="One user")
def get_user(user_id: uuid.UUID, principal: Admin, session: SessionDep) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return UserOut.model_validate(user)


@router.patch(
    "/{user_id}",
    response_model=UserOut,
    summary="Change a user's name, role, stations or password, or (de)activate them",
)
def update_user(
    user_id: uuid.UUID, body: UserUpdate, principal: Admin, session: SessionDep, cache: KeyCacheDep
) -> UserOut:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    given = body.model_fields_set
    changes: dict[str, object] = {}
    if "display_name" in given and body.display_name is not None:
        user.display_name = changes["display_name"] = body.display_name.strip()
    if "role" in given and body.role is not None:
        user.role = changes["role"] = body.role.value
    if "stations" in given:
        stations = body.stations or None  # an empty list, or null: every station
        user.station_ids = None if stations is None else [str(s) for s in resolve_stations(session, stations)]
        changes["station_ids"] = user.station_ids
    if user.role == Role.admin.value and user.station_ids is not None:
        raise Problem(422, ADMIN_SCOPE)
    if "active" in given and body.active is not None:
        user.active = changes["active"] = body.active
    if "password" in given and body.password is not None:
        user.password_hash = hash_password(body.password)
        changes["password_reset"] = True
    if user.id == principal.key_id and (user.active is False or user.role != Role.admin.value):
        raise Problem(422, "An admin cannot deactivate or demote themselves; ask another admin.")
    ended: list[uuid.UUID] = []
    if changes.get("active") is False or changes.get("password_reset"):
        ended = end_all_sessions(session, user.id)
        changes["sessions_ended"] = len(ended)
    audit.record(
        session, principal, "user.update", "user", str(user.id), {"username": user.username, **changes}
    )
    session.flush()
    session.refresh(user)
    for session_id in ended:
        cache.forget_key(session_id)
    cache.drop_person(user.id)
    return UserOut.model_validate(user)
