"""The Alembic revisions build exactly the schema the models describe (on either database)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import models  # noqa: F401 - every model registered on Base.metadata
from models import Base


def test_migrations_match_the_models(database_url):
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert differences == [], "a model change without its Alembic revision (see docs/ARCHITECTURE.md)"
