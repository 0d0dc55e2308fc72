"""Fixtures: a fresh, migrated database per test (SQLite, or PostgreSQL when
PORTAL_TEST_DATABASE_URL is set), a fresh data folder, cleared Streamlit caches."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services import db  # noqa: E402
from services.settings import get_settings  # noqa: E402

PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL")
# Tests about PostgreSQL itself (e.g. its migrations) may run in the SQLite pass too.
PG_ONLY_URL = os.environ.get("PORTAL_TEST_POSTGRES_URL") or PG_URL
IN_CI = os.environ.get("CI", "").lower() == "true"


def pytest_report_header(config):
    return f"database: {'PostgreSQL ' + PG_URL.split('@')[-1] if PG_URL else 'SQLite'}"


def _set_env(monkeypatch, url: str, data_dir: Path) -> None:
    monkeypatch.setenv("PORTAL_DATABASE_URL", url)
    monkeypatch.setenv("PORTAL_DATA_DIR", str(data_dir))
    for name in list(os.environ):
        if name.startswith("PORTAL_") and name not in {
            "PORTAL_DATABASE_URL", "PORTAL_DATA_DIR", "PORTAL_TEST_DATABASE_URL"
        }:
            monkeypatch.delenv(name)
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def _template(tmp_path_factory):
    """Migrate once per test session; each test then starts from a copy or a truncate."""
    if PG_URL:
        engine = db.build_engine(PG_URL)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
        db.migrate(PG_URL)
        db.dispose_engines()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "portal.db"
    url = f"sqlite:///{path}"
    db.migrate(url)
    db.dispose_engines()
    return path


def _truncate_all(url: str) -> None:
    engine = db.get_engine(url)
    with engine.begin() as connection:
        names = connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )).scalars().all()
        connection.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(_template, tmp_path, monkeypatch) -> str:
    """A migrated, empty database for this test; the app's settings point at it."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    if PG_URL:
        _truncate_all(PG_URL)
        url = PG_URL
    else:
        path = tmp_path / "portal.db"
        shutil.copy(_template, path)
        url = f"sqlite:///{path}"
    _set_env(monkeypatch, url, data_dir)
    yield url
    if not PG_URL:
        db.dispose_engines()
    get_settings.cache_clear()


@pytest.fixture
def data_dir(database_url) -> Path:
    return get_settings().data_dir


@pytest.fixture
def session(database_url):
    """A session on the test database; call `session.commit()` before other code reads."""
    session = Session(bind=db.get_engine(), expire_on_commit=False)
    yield session
    try:
        session.commit()
    except Exception:  # noqa: BLE001 - a test that provoked an error leaves nothing to keep
        session.rollback()
    finally:
        session.close()


@pytest.fixture(autouse=True)
def _clear_streamlit_caches():
    yield
    try:
        import streamlit as st

        st.cache_data.clear()
        st.cache_resource.clear()
    except Exception:  # noqa: BLE001 - streamlit not importable is fine for service tests
        pass


@pytest.fixture(autouse=True)
def rerun_app_script(monkeypatch):
    """Every AppTest run goes through app.py (login gate, Practice selector), as on the server."""
    from tests.pages.helpers import rerun_app_script_every_run

    rerun_app_script_every_run(monkeypatch.setattr)


@pytest.fixture
def postgres_url() -> str:
    """The PostgreSQL URL for tests that need PostgreSQL itself; skip locally, fail in CI."""
    if not PG_ONLY_URL:
        if IN_CI:
            pytest.fail("PORTAL_TEST_POSTGRES_URL / PORTAL_TEST_DATABASE_URL is not set, "
                        "but CI=true requires PostgreSQL")
        pytest.skip("PORTAL_TEST_POSTGRES_URL / PORTAL_TEST_DATABASE_URL not set")
    return PG_ONLY_URL
