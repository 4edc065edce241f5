"""Aliases (production, staging, any name): move, resolve, remove, and the history of every move."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from linesight_core.contracts.common import Page
from linesight_core.contracts.registry import (
    ALIAS_PATTERN,
    MAX_VERSION,
    AliasEventOut,
    AliasMove,
    AliasOut,
    ModelVersionOut,
)
from linesight_core.errors import Problem
from linesight_registry.api.deps import ActorDep, PublisherDep, SessionDep, SettingsDep
from linesight_registry.domain import catalog

router = APIRouter(prefix="/v1/models/{name}", tags=["aliases"])

AliasName = Annotated[str, Path(pattern=ALIAS_PATTERN, description="production, staging or your own name")]


@router.get("/aliases", response_model=list[AliasOut], summary="Every alias of a model")
def list_aliases(name: str, session: SessionDep) -> list[AliasOut]:
    model = catalog.get_model(session, name)
    out = []
    for alias_name in sorted(catalog.alias_map(session, [model.id])[model.id]):
        alias, version = catalog.resolve_alias(session, model, alias_name)
        out.append(catalog.alias_out(model, alias, version))
    return out


@router.get("/aliases/{alias}", response_model=AliasOut, summary="Which version an alias points at")
def get_alias(name: str, alias: AliasName, session: SessionDep) -> AliasOut:
    model = catalog.get_model(session, name)
    a, v = catalog.resolve_alias(session, model, alias)
    return catalog.alias_out(model, a, v)


@router.put(
    "/aliases/{alias}",
    response_model=AliasOut,
    summary="Point an alias at a version (promote, or roll back)",
    description="Records the move (who, when, from, to) and publishes `linesight.model.promoted` on Redis.",
)
def move_alias(
    name: str, alias: AliasName, body: AliasMove, session: SessionDep, actor: ActorDep, publish: PublisherDep
) -> AliasOut:
    model = catalog.get_model(session, name)
    a, v, _ = catalog.move_alias(
        session,
        model,
        alias,
        body.version,
        moved_by=body.moved_by or actor,
        reason=body.reason,
        publish=publish,
    )
    return catalog.alias_out(model, a, v)


@router.delete("/aliases/{alias}", status_code=204, summary="Remove a user alias")
def delete_alias(
    name: str,
    alias: AliasName,
    session: SessionDep,
    actor: ActorDep,
    publish: PublisherDep,
    reason: str = Query("", max_length=2000),
) -> None:
    model = catalog.get_model(session, name)
    catalog.delete_alias(session, model, alias, moved_by=actor, reason=reason, publish=publish)


@router.get("/alias-history", response_model=Page[AliasEventOut], summary="Every alias move, newest first")
def history(
    name: str,
    session: SessionDep,
    alias: str | None = Query(None, pattern=ALIAS_PATTERN),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0),
) -> Page[AliasEventOut]:
    model = catalog.get_model(session, name)
    items, total = catalog.alias_history(session, model, alias, limit=limit, offset=offset)
    return Page[AliasEventOut](items=items, total=total, limit=limit, offset=offset)


@router.get(
    "/resolve",
    response_model=ModelVersionOut,
    summary="The version to serve: by alias (default production) or by number",
)
def resolve(
    name: str,
    session: SessionDep,
    settings: SettingsDep,
    alias: str | None = Query(None, pattern=ALIAS_PATTERN),
    version: int | None = Query(None, ge=1, le=MAX_VERSION),
) -> ModelVersionOut:
    if alias and version:
        raise Problem(422, "Give either alias or version, not both.")
    model = catalog.get_model(session, name)
    if version is not None:
        v = catalog.get_version(session, model, version)
    else:
        _, v = catalog.resolve_alias(session, model, alias or "production")
    aliases = catalog.aliases_of_versions(session, model.id).get(v.id, [])
    return catalog.version_out(v, model.name, settings.bucket("models"), aliases)
