"""Migrations: they build the schema from empty and match the models exactly."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from app.models import Base


def test_migrations_build_every_table_and_match_the_models(database_url: str) -> None:
    engine = create_engine(database_url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ: {diff}"


def test_migrations_run_from_empty_and_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from app.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    upgrade(url)  # a second run is a no-op
    engine = create_engine(url)
    with engine.connect() as conn:
        assert "alembic_version" in inspect(conn).get_table_names()
        assert "areas" in inspect(conn).get_table_names()
    engine.dispose()
