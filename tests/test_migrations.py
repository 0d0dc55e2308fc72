"""Migrations: empty → head on SQLite and PostgreSQL; the models and migrations agree."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

import models
from services import db


def _migrate_and_compare(url: str) -> None:
    db.migrate(url)
    engine = db.get_engine(url)
    with engine.connect() as connection:
        tables = set(inspect(connection).get_table_names())
        assert {"practice", "appointment", "enrollment", "auditevent", "alembic_version"} <= tables
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, models.SQLModel.metadata) == []


def test_empty_to_head_on_sqlite_without_drift(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    _migrate_and_compare(url)
    db.migrate(url)  # a second run is a no-op
    db.dispose_engines()


def test_empty_to_head_on_postgresql_without_drift(postgres_url):
    schema_url = postgres_url
    engine = db.build_engine(schema_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    _migrate_and_compare(schema_url)


def test_a_percent_in_the_database_url_does_not_break_migrations(tmp_path):
    folder = tmp_path / "with%20percent"
    folder.mkdir()
    url = f"sqlite:///{folder / 'fresh.db'}"
    db.migrate(url)
    db.dispose_engines()
    assert (folder / "fresh.db").exists()
