"""One engine per database URL, sessions per unit of work, and migrations to head."""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from services.settings import DataFolderError, data_folder_problem, get_settings

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


def _private_sqlite_files(path: Path) -> None:
    """Create the database file owner-only (SQLite gives its WAL and shared-memory files the
    database file's mode) and tighten files an earlier version left readable by others."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        raise data_folder_problem(path.parent, error) from None
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(OSError):
            if name.stat().st_mode & 0o077:
                name.chmod(0o600)


def build_engine(url: str) -> Engine:
    """A new engine for `url`, with SQLite set up for safe concurrent writes."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            _private_sqlite_files(Path(database))
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
        try:
            with engine.connect() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
        except OperationalError as error:
            # A read-only folder or file: SQLite cannot write its journal or the tables.
            folder = Path(make_url(url).database or ".").parent
            raise DataFolderError(
                f"The database in {folder} cannot be written ({error.orig}): make the folder "
                "and its files writable by the user running Practice Portal, or point "
                "PORTAL_DATA_DIR elsewhere."
            ) from None


@functools.cache
def migrate_once(url: str) -> None:
    """`migrate` once per process and URL (the app calls this on every start)."""
    migrate(url)
