"""Backups of the database: SQLite through its online backup API (consistent while the app
runs), PostgreSQL through `pg_dump`/`pg_restore` in custom format.

A backup is one tar file: `manifest.json` (engine, schema revision, when), the database
(`portal.sqlite3` or `portal.pgdump`) and, only when asked, the keys (`keys/`). Restore refuses a
backup from a newer schema than this code knows, refuses to overwrite a database that holds rows
unless forced, and migrates an older backup up to head afterwards.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine, make_url

from services.db import alembic_config, dispose_engines, get_engine, migrate
from services.errors import Conflict, InvalidInput
from services.settings import Settings, cookie_key, get_settings, outbox_key, pin_pepper

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SQLITE_MEMBER = "portal.sqlite3"
PGDUMP_MEMBER = "portal.pgdump"
KEY_NAMES = ("outbox_key", "cookie_key", "pin_pepper")
KEYS_WARNING = ("this backup holds the outbox and cookie keys and the PIN pepper: anyone with it "
                "can open the PINs waiting in the outbox, sign cookies and try PINs offline; keep "
                "it as safe as the keys")


@dataclass(frozen=True)
class BackupManifest:
    """What a backup says about itself."""

    engine: str  # sqlite or postgresql
    schema_revision: str | None
    created_at: str
    with_keys: bool
    format_version: int = FORMAT_VERSION


@dataclass(frozen=True)
class RestoreReport:
    """What a restore did."""

    manifest: BackupManifest
    upgraded_to: str | None  # the head revision, when the backup was older
    keys_written: tuple[str, ...] = ()


# --- shared ---------------------------------------------------------------------------------


def schema_revision(engine: Engine) -> str | None:
    """The database's Alembic revision (None when it was never migrated)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        revision = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        connection.rollback()
    return revision


def database_has_rows(engine: Engine) -> bool:
    """True when any table but alembic_version holds a row."""
    with engine.connect() as connection:
        names = [name for name in inspect(connection).get_table_names()
                 if name != "alembic_version"]
        preparer = engine.dialect.identifier_preparer
        found = any(connection.execute(
            text(f"SELECT 1 FROM {preparer.quote(name)} LIMIT 1")).first() for name in names)
        connection.rollback()
    return found


def _libpq_url(url: str) -> tuple[str, dict[str, str]]:
    """A URL pg_dump understands (no SQLAlchemy driver), and the password apart in PGPASSWORD."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    rendered = plain.render_as_string(hide_password=False)
    # SQLAlchemy escapes "=" in query values ("options=-csearch_path%3Dx"); libpq decodes it.
    return rendered, env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise InvalidInput(
            f"{name} is not installed: PostgreSQL backups need the PostgreSQL client tools "
            f"(Debian: apt-get install postgresql-client) of the server's major version or newer")
    return found


def _run_tool(argv: list[str], env: dict[str, str]) -> None:
    result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise InvalidInput(f"{Path(argv[0]).name} failed: {detail}")


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(dt.datetime.now(dt.UTC).timestamp())
    info.mode = 0o600
    archive.addfile(info, io.BytesIO(data))


# --- backup ---------------------------------------------------------------------------------


def _dump_sqlite(engine: Engine, target: Path) -> None:
    database = engine.url.database
    source = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    destination = sqlite3.connect(target)
    try:
        with destination:
            source.backup(destination)  # page by page, consistent while others write
    finally:
        destination.close()
        source.close()


def _dump_postgresql(engine: Engine, target: Path) -> None:
    with engine.connect() as connection:
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        connection.rollback()
    url, env = _libpq_url(engine.url.render_as_string(hide_password=False))
    _run_tool([_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
               f"--schema={schema}", f"--file={target}", f"--dbname={url}"], env)


def backup_database(*, dest: Path, with_keys: bool = False, database_url: str | None = None,
                    settings: Settings | None = None) -> BackupManifest:
    """Write a backup of the database (and, only when asked, the keys) to the file `dest`."""
    settings = settings or get_settings()
    engine = get_engine(database_url or settings.resolved_database_url)
    if dest.exists():
        raise Conflict(f"{dest} already exists: choose a new file name for the backup")
    if not dest.parent.is_dir():
        raise InvalidInput(f"the folder {dest.parent} does not exist")
    manifest = BackupManifest(
        engine=engine.dialect.name, schema_revision=schema_revision(engine),
        created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), with_keys=with_keys)
    with tempfile.TemporaryDirectory(dir=dest.parent) as scratch:
        if manifest.engine == "sqlite":
            member, dumped = SQLITE_MEMBER, Path(scratch) / SQLITE_MEMBER
            _dump_sqlite(engine, dumped)
        elif manifest.engine == "postgresql":
            member, dumped = PGDUMP_MEMBER, Path(scratch) / PGDUMP_MEMBER
            _dump_postgresql(engine, dumped)
        else:
            raise InvalidInput(f"backups of {manifest.engine} databases are not supported")
        partial = Path(scratch) / "backup.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            _add_bytes(archive, MANIFEST, json.dumps(manifest.__dict__, indent=2).encode())
            archive.add(dumped, arcname=member)
            if with_keys:
                keys = {"outbox_key": outbox_key(settings), "cookie_key": cookie_key(settings),
                        "pin_pepper": pin_pepper(settings)}
                for name, value in keys.items():
                    _add_bytes(archive, f"keys/{name}", value.encode())
        partial.chmod(0o600)
        partial.replace(dest)  # a backup file is either whole or absent
    return manifest


# --- restore --------------------------------------------------------------------------------


def read_manifest(archive: tarfile.TarFile) -> BackupManifest:
    """The manifest of an opened backup (InvalidInput when it is not a Practice Portal backup)."""
    try:
        raw = json.loads(archive.extractfile(MANIFEST).read())
        return BackupManifest(**raw)
    except (KeyError, AttributeError, TypeError, ValueError):
        raise InvalidInput("this file is not a Practice Portal backup (no manifest)") from None


def _check_revision(manifest: BackupManifest, url: str) -> bool:
    """Refuse a backup from a newer schema; True when it is older than head."""
    if manifest.format_version > FORMAT_VERSION:
        raise Conflict("this backup was written by a newer version of Practice Portal: "
                       "upgrade the code first, then restore")
    script = ScriptDirectory.from_config(alembic_config(url))
    head = script.get_current_head()
    if manifest.schema_revision is None or manifest.schema_revision == head:
        return False
    try:
        known = script.get_revision(manifest.schema_revision)
    except CommandError:
        known = None
    if known is None:
        raise Conflict(
            f"this backup has schema revision {manifest.schema_revision}, which this code does "
            f"not know (newest here: {head}): upgrade the code first, then restore")
    return True


def _restore_sqlite(archive: tarfile.TarFile, engine: Engine, scratch: Path) -> None:
    archive.extract(SQLITE_MEMBER, scratch, filter="data")
    database = engine.url.database
    dispose_engines()  # nobody in this process holds the file while it is replaced
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(scratch / SQLITE_MEMBER)
    destination = sqlite3.connect(database, timeout=30)
    try:
        source.backup(destination)
    finally:
        destination.close()
        source.close()


def _restore_postgresql(archive: tarfile.TarFile, engine: Engine, scratch: Path) -> None:
    archive.extract(PGDUMP_MEMBER, scratch, filter="data")
    url, env = _libpq_url(engine.url.render_as_string(hide_password=False))
    dispose_engines()
    _run_tool([_pg_tool("pg_restore"), "--clean", "--if-exists", "--no-owner",
               "--no-privileges", "--single-transaction", "--exit-on-error",
               f"--dbname={url}", str(scratch / PGDUMP_MEMBER)], env)


def _key_path(settings: Settings, name: str) -> Path:
    return getattr(settings, f"{name}_file") or settings.data_dir / f"{name}.key"


def _restore_keys(archive: tarfile.TarFile, settings: Settings) -> tuple[str, ...]:
    written = []
    for name in KEY_NAMES:
        try:
            member = archive.extractfile(f"keys/{name}")
        except KeyError:
            continue  # a backup made before this key existed
        value = member.read().decode().strip()
        path = _key_path(settings, name)
        if getattr(settings, name) is not None:
            continue  # given by value in the settings: that one wins
        if path.exists() and path.read_text(encoding="utf-8").strip() != value:
            raise Conflict(f"{path} holds a different key than the backup: move it away "
                           f"first if the backup's key should replace it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(value, encoding="utf-8")
        path.chmod(0o600)
        written.append(str(path))
    return tuple(written)


def restore_database(*, source: Path, force: bool = False, with_keys: bool = False,
                     database_url: str | None = None,
                     settings: Settings | None = None) -> RestoreReport:
    """Restore a backup into the configured database, then migrate it to head."""
    settings = settings or get_settings()
    url = database_url or settings.resolved_database_url
    if not source.is_file():
        raise InvalidInput(f"no such backup file: {source}")
    try:
        archive = tarfile.open(source, "r:*")  # noqa: SIM115 - closed by the `with` below
    except tarfile.TarError:
        raise InvalidInput(f"{source} is not a Practice Portal backup") from None
    with archive, tempfile.TemporaryDirectory() as scratch:
        manifest = read_manifest(archive)
        engine = get_engine(url)
        if manifest.engine != engine.dialect.name:
            raise Conflict(f"this is a {manifest.engine} backup; the configured database is "
                           f"{engine.dialect.name}")
        older = _check_revision(manifest, url)
        if with_keys and not manifest.with_keys:
            raise InvalidInput("this backup holds no keys (it was made without --with-keys)")
        if database_has_rows(engine) and not force:
            raise Conflict("the database is not empty: restore with --force to overwrite it")
        if manifest.engine == "sqlite":
            _restore_sqlite(archive, engine, Path(scratch))
        else:
            _restore_postgresql(archive, engine, Path(scratch))
        keys = _restore_keys(archive, settings) if with_keys else ()
    if older:
        migrate(url)
    dispose_engines()
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    return RestoreReport(manifest=manifest, upgraded_to=head if older else None,
                         keys_written=keys)
