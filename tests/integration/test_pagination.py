"""`paginate` answers one ordered slice and the count of every row the filters match, on real Postgres:
filters (also EXISTS filters) count as they filter, and consecutive pages neither repeat nor skip rows."""

import uuid

import pytest
from sqlalchemy import ForeignKey, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from linesight_core.pagination import Slice, paginate


class Base(DeclarativeBase):
    pass


class Thing(Base):
    __tablename__ = f"paginate_thing_{uuid.uuid4().hex[:8]}"
    id: Mapped[int] = mapped_column(primary_key=True)
    group: Mapped[str]
    rank: Mapped[int]


class Tag(Base):
    __tablename__ = f"paginate_tag_{uuid.uuid4().hex[:8]}"
    id: Mapped[int] = mapped_column(primary_key=True)
    thing_id: Mapped[int] = mapped_column(ForeignKey(Thing.id))


@pytest.fixture(scope="module")
def session(postgres_url):
    engine = create_engine(postgres_url)
    Base.metadata.create_all(engine)
    with Session(engine) as s:
        # 25 things; every rank appears twice, so only the id as last key makes the order total.
        s.add_all(Thing(id=i, group="a" if i % 2 else "b", rank=i // 2) for i in range(25))
        s.flush()
        s.add_all(Tag(thing_id=i) for i in range(0, 25, 5))
        s.commit()
        yield s
    Base.metadata.drop_all(engine)
    engine.dispose()


def test_pages_cover_every_row_once_with_the_filtered_total(session):
    stmt = select(Thing).where(Thing.group == "a")
    seen: list[int] = []
    for offset in range(0, 20, 5):
        page = paginate(session, stmt, Thing.rank.desc(), Thing.id, limit=5, offset=offset)
        assert isinstance(page, Slice)
        assert page.total == 12
        seen += [t.id for t in page.items]
    assert seen == sorted(range(1, 25, 2), key=lambda i: (-(i // 2), i))


def test_exists_filter_counts_as_it_filters_and_unpacks_as_a_pair(session):
    tagged = select(Tag.id).where(Tag.thing_id == Thing.id).exists()
    items, total = paginate(session, select(Thing).where(tagged), Thing.id, limit=2, offset=1)
    assert total == 5
    assert [t.id for t in items] == [5, 10]
    past_the_end, total = paginate(session, select(Thing).where(~tagged), Thing.id, limit=10, offset=100)
    assert (past_the_end, total) == ([], 20)
