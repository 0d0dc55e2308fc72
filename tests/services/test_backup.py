"""Backup and restore: backup → wipe → restore keeps every row, on SQLite and on PostgreSQL;
restore refuses a newer schema and a database with rows (unless forced); keys only when asked."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlmodel import Session

import manage
import models
from models import AuditEvent, OutboxMessage, Role, WorkerHeartbeat
from services import db
from services.backup import backup_database, restore_database, schema_revision
from services.errors import Conflict, InvalidInput
from tests.factories import (
    make_appointment,
    make_enrollment,
    make_guardian,
    make_patient,
    make_practice,
    make_user,
)


def fill(url: str) -> None:
    """A bit of everything, with non-ASCII text and NULLs."""
    with db.session_scope(engine=db.get_engine(url)) as session:
        practice = make_practice(session, address="Zoë's corner\nSuite 2")
        make_user(session, role=Role.admin, practices=[practice])
        for _ in range(3):
            patient = make_patient(session, practice)
            guardian = make_guardian(session, practice, patients=[patient])
            make_appointment(session, practice, patient=patient)
            make_enrollment(session, practice, patient=patient, guardian=guardian)
        session.add(OutboxMessage(practice_id=practice.id, channel="email",
                                  recipient="p@example.com", body_text="Ça va [[PIN]]",
                                  sealed_secret="sealed"))
        session.add(AuditEvent(actor="cli", action="registration", practice_id=practice.id,
                               detail='{"note": "ü"}'))
        session.add(WorkerHeartbeat(name=f"host:{uuid.uuid4().hex[:8]}", sent_total=4))


def snapshot(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    engine = db.get_engine(url)
    rows = {}
    with Session(engine) as session:
        for table in models.SQLModel.metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            rows[table.name] = [tuple(row) for row in session.execute(query)]
    return rows


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'live' / 'portal.db'}"


def wipe(url: str) -> None:
    db.dispose_engines()
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()
        return
    reset_postgresql(url)


def reset_postgresql(url: str) -> None:
    engine = db.build_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def live_url(request, database_url, tmp_path):
    """A migrated database of its own: a SQLite file, or the PostgreSQL-only test database."""
    if request.param == "sqlite":
        url = sqlite_url(tmp_path)
    else:
        url = request.getfixturevalue("postgres_url")
        reset_postgresql(url)
    db.migrate(url)
    yield url
    db.dispose_engines()


def test_backup_wipe_restore_keeps_every_row(live_url, tmp_path):
    fill(live_url)
    before = snapshot(live_url)
    assert sum(len(rows) for rows in before.values()) > 20
    backup = tmp_path / "portal-backup.tar.gz"

    manifest = backup_database(dest=backup, database_url=live_url)
    wipe(live_url)
    report = restore_database(source=backup, database_url=live_url)

    assert manifest.schema_revision is not None and manifest.with_keys is False
    assert report.upgraded_to is None
    assert snapshot(live_url) == before
    with tarfile.open(backup) as archive:
        assert not [name for name in archive.getnames() if name.startswith("keys/")]


def test_restore_refuses_a_database_with_rows_unless_forced(live_url, tmp_path):
    fill(live_url)
    backup = tmp_path / "b.tar.gz"
    backup_database(dest=backup, database_url=live_url)
    fill(live_url)  # more rows after the backup
    grown = snapshot(live_url)

    with pytest.raises(Conflict, match="--force"):
        restore_database(source=backup, database_url=live_url)
    assert snapshot(live_url) == grown

    restore_database(source=backup, database_url=live_url, force=True)
    assert len(snapshot(live_url)["patient"]) == len(grown["patient"]) // 2


def _rewrite_manifest(backup: Path, target: Path, **changes) -> None:
    with tarfile.open(backup) as source, tarfile.open(target, "w:gz") as copy:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "manifest.json":
                data = json.dumps({**json.loads(data), **changes}).encode()
                member.size = len(data)
            copy.addfile(member, io.BytesIO(data))


def test_restore_refuses_a_backup_from_a_newer_schema(database_url, tmp_path):
    url = sqlite_url(tmp_path)
    db.migrate(url)
    fill(url)
    backup_database(dest=tmp_path / "b.tar.gz", database_url=url)
    _rewrite_manifest(tmp_path / "b.tar.gz", tmp_path / "future.tar.gz",
                      schema_revision="0099_from_the_future")
    wipe(url)
    with pytest.raises(Conflict, match="0099_from_the_future.*upgrade the code first"):
        restore_database(source=tmp_path / "future.tar.gz", database_url=url)
    assert schema_revision(db.get_engine(url)) is None  # nothing was restored


def test_an_older_backup_is_migrated_to_head_after_restore(database_url, tmp_path):
    from alembic import command

    url = sqlite_url(tmp_path)
    db.migrate(url)
    command.downgrade(db.alembic_config(url), "0001")
    db.dispose_engines()
    backup_database(dest=tmp_path / "old.tar.gz", database_url=url)
    wipe(url)
    report = restore_database(source=tmp_path / "old.tar.gz", database_url=url)
    assert report.manifest.schema_revision == "0001"
    assert report.upgraded_to is not None
    assert schema_revision(db.get_engine(url)) == report.upgraded_to


def test_keys_go_in_only_when_asked_and_come_back_with_restore(data_dir, tmp_path, capsys,
                                                               monkeypatch):
    from services.settings import cookie_key, get_settings, outbox_key

    keys = (outbox_key(), cookie_key())
    db.migrate()
    assert manage.main(["backup", str(tmp_path / "k.tar.gz"), "--with-keys"]) == 0
    assert "warning:" in capsys.readouterr().err
    with tarfile.open(tmp_path / "k.tar.gz") as archive:
        stored = archive.extractfile("keys/outbox_key").read().decode()
    assert stored == keys[0]

    for name in ("outbox_key.key", "cookie_key.key"):
        (data_dir / name).unlink()
    get_settings.cache_clear()
    assert manage.main(["restore", str(tmp_path / "k.tar.gz"), "--with-keys", "--force"]) == 0
    assert (data_dir / "outbox_key.key").read_text() == keys[0]
    assert (data_dir / "cookie_key.key").read_text() == keys[1]


def test_cli_failures_are_one_line(database_url, tmp_path, capsys):
    existing = tmp_path / "exists.tar.gz"
    existing.write_text("x")
    assert manage.main(["backup", str(existing)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert manage.main(["restore", str(tmp_path / "missing.tar.gz")]) == 2
    assert "no such backup file" in capsys.readouterr().err
    assert manage.main(["restore", str(existing)]) == 2
    assert "not a Practice Portal backup" in capsys.readouterr().err


def test_without_pg_dump_the_message_says_what_to_install(postgres_url, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no PostgreSQL tools on this PATH
    with pytest.raises(InvalidInput, match="pg_dump is not installed.*postgresql-client"):
        backup_database(dest=tmp_path / "b.tar.gz", database_url=postgres_url)
    assert not (tmp_path / "b.tar.gz").exists()
