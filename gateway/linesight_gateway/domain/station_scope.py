"""Station scoping of API keys: a key limited to some stations is refused (403) on every other station's
details, inspections, feedback and label reads, and its lists show only its own stations."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from linesight_core.errors import Problem
from linesight_gateway.db.models import Station
from linesight_gateway.domain.access import Principal


def require_station(principal: Principal, station_id: uuid.UUID | None) -> None:
    if not principal.may_use_station(station_id):
        what = f"station {station_id}" if station_id else "a read without a station"
        raise Problem(403, f"This API key is limited to its own stations; {what} is not one of them.")


def station_filter(principal: Principal, column: InstrumentedAttribute[Any]) -> ColumnElement[bool] | None:
    """The condition a list query adds for a scoped key (None: the key sees every station)."""
    if principal.station_ids is None:
        return None
    return column.in_(sorted(principal.station_ids))


def resolve_stations(session: Session, refs: list[str]) -> list[uuid.UUID]:
    """Station ids or names, as an admin gives them when issuing a key, to ids; unknown ones are a 422."""
    ids: list[uuid.UUID] = []
    unknown: list[str] = []
    for ref in dict.fromkeys(r.strip() for r in refs):
        try:
            as_id: uuid.UUID | None = uuid.UUID(ref)
        except ValueError:
            as_id = None
        conditions = [Station.name == ref] + ([Station.id == as_id] if as_id else [])
        found = session.scalar(select(Station.id).where(or_(*conditions)))
        if found is None:
            unknown.append(ref)
        elif found not in ids:
            ids.append(found)
    if unknown:
        raise Problem(422, f"There is no station {', '.join(map(repr, unknown))}; give station ids or names.")
    return ids
