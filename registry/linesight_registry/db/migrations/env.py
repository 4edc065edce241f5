"""Alembic environment of the registry schema; run by linesight_core.db.run_migrations at start."""

from linesight_core.db import run_alembic_env
from linesight_registry.db.models import Base

run_alembic_env(Base.metadata)
