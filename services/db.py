"""One engine per database URL, sessions per unit of work, and migrations to head."""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from services.settings import get_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SQLITE_BUSY_TIMEOUT_MS = 15_000
READ_ONLY = "portal_read_only"


def _prepare_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling is switched off so that we can say
    # BEGIN IMMEDIATE ourselves: a read-then-write then holds the write lock from
    # its first read, and two writers can never both read the old value.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection):
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def build_engine(url: str) -> Engine:
    """A new engine for `url`, with SQLite set up for safe concurrent writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        _prepare_sqlite(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def get_engine(url: str | None = None) -> Engine:
    """The one engine for `url` (default: the configured database)."""
    url = url or get_settings().resolved_database_url
    with _engines_lock:
        if url not in _engines:
            _engines[url] = build_engine(url)
        return _engines[url]


def dispose_engines() -> None:
    """Close every engine (tests and shutdown)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


@contextlib.contextmanager
def session_scope(*, read_only: bool = False, engine: Engine | None = None) -> Iterator[Session]:
    """One unit of work: commits once at the end, rolls back on any error."""
    engine = engine or get_engine()
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    session = Session(bind=bind, expire_on_commit=False)
    try:
        yield session
        if read_only:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | None = None) -> Config:
    """Alembic's configuration for this project, pointed at `url`."""
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # configparser treats % as interpolation; URL-encoded passwords contain it.
    url = url or get_settings().resolved_database_url
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str | None = None) -> None:
    """Upgrade the database to the newest migration (safe to call from several processes)."""
    url = url or get_settings().resolved_database_url
    engine = get_engine(url)
    config = alembic_config(url)
    if engine.dialect.name == "postgresql":
        # Replicas starting together take turns instead of racing the same DDL.
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(74210531)"))
            try:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(74210531)"))
                connection.commit()
    else:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()


@functools.cache
def migrate_once(url: str) -> None:
    """`migrate` once per process and URL (the app calls this on every start)."""
    migrate(url)
