"""Postgres access: engine and session factory, one schema per service, Alembic migrations at start."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from fastapi import Request
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

log = logging.getLogger(__name__)


def make_engine(url: str, *, pool_size: int = 5, connect_timeout: int = 3) -> Engine:
    """An engine that survives a database restart: stale pooled connections are replaced on checkout."""
    connect_args = {"connect_timeout": connect_timeout} if url.startswith("postgresql") else {}
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool_size,
        max_overflow=pool_size * 2,
        pool_recycle=1800,
        connect_args=connect_args,
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def base_for_schema(schema: str) -> type[DeclarativeBase]:
    """A declarative base whose tables all live in the service's own schema."""

    class Base(DeclarativeBase):
        metadata = MetaData(
            schema=schema,
            naming_convention={
                "ix": "ix_%(table_name)s_%(column_0_N_name)s",
                "uq": "uq_%(table_name)s_%(column_0_N_name)s",
                "ck": "ck_%(table_name)s_%(constraint_name)s",
                "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
                "pk": "pk_%(table_name)s",
            },
        )

    return Base


def check_database(engine: Engine) -> None:
    """Readiness probe: raises when the database does not answer."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def run_migrations(engine: Engine, migrations_dir: Path, schema: str) -> None:
    """Bring the service's schema to the newest revision. Safe to run from several replicas at once:
    a Postgres advisory lock keyed on the schema name serialises them."""
    lock_key = zlib.crc32(f"linesight-migrations:{schema}".encode())
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    with engine.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key})
        try:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            conn.commit()
            cfg.attributes["connection"] = conn
            cfg.attributes["schema"] = schema
            command.upgrade(cfg, "head")
            conn.commit()
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": lock_key})
            conn.commit()
    log.info("migrations at head", extra={"schema": schema})


def run_alembic_env(target_metadata: MetaData) -> None:
    """Body of every service's Alembic env.py: online migrations on the connection we were given."""
    from alembic import context

    config = context.config
    connection = config.attributes.get("connection")
    schema = config.attributes.get("schema") or target_metadata.schema
    if connection is None:
        raise RuntimeError("migrations run through linesight_core.db.run_migrations, not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table_schema=schema,
        include_schemas=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def request_session(request: Request) -> Iterator[Session]:
    """FastAPI dependency: one session per request from `app.state.session_factory`, committed when the
    endpoint returns, rolled back when it raises. Declare it with `Depends(request_session,
    scope="function")`: FastAPI's default scope runs the commit after the response is sent, so a client
    that reads right after a write (POST, then GET) could miss it, and a failing commit would follow a
    success answer."""
    session: Session = request.app.state.session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
