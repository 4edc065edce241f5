"""One way to answer a page of rows: count what the filters match, then fetch one ordered slice.

Every list route answers `items` with `total`, `limit` and `offset` (`linesight_core.contracts.common.Page`
or a page model of the same shape); `paginate` is the query half of that, written once."""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from linesight_core.contracts.common import Page

R = TypeVar("R")

__all__ = ["Page", "Slice", "paginate"]


class Slice(NamedTuple, Generic[R]):
    """A page's rows and how many rows the filters match in all; unpacks as `(items, total)`."""

    items: list[R]
    total: int


def paginate(session: Session, stmt: Select[R], *order_by: Any, limit: int, offset: int) -> Slice[R]:
    """`stmt` is the filtered select of one entity. The total counts it as a subquery (so joins and
    EXISTS filters count as they filter); the rows are `stmt` ordered by `order_by` (give a unique last key,
    so pages neither repeat nor skip rows), limited and offset."""
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(stmt.order_by(*order_by).limit(limit).offset(offset))
    return Slice(list(rows), total)
