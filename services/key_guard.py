"""Refusing a new outbox key (or PIN pepper) while rows made with the old one still wait.

A second host started without the key, or a data folder restored without it, would otherwise
make a fresh key: every waiting PIN email would fail to open (outbox key), or every PIN and
answer still waiting to be used would stop matching (pepper). This is the one place that
decides; `services.settings.outbox_key` and `pin_pepper` call it before they write a new key.
"""

from __future__ import annotations

from sqlalchemy import func, inspect, select

from models import Enrollment, OutboxMessage
from services.settings import KeyWouldChange, Settings


def _count(database_url: str, table, condition) -> int:
    """Rows of `table` meeting `condition` (0 before the first migrate)."""
    from services.db import READ_ONLY, get_engine

    engine = get_engine(database_url).execution_options(**{READ_ONLY: True})
    with engine.connect() as connection:
        if not inspect(connection).has_table(table.__tablename__):
            return 0
        count = connection.execute(
            select(func.count()).select_from(table).where(condition)
        ).scalar_one()
        connection.rollback()
    return count


def count_sealed_messages(database_url: str) -> int:
    """Outbox rows still holding a PIN sealed with the outbox key."""
    return _count(database_url, OutboxMessage, OutboxMessage.sealed_secret.is_not(None))


def count_peppered_secrets(database_url: str) -> int:
    """Enrollments whose PIN or answer hash is keyed with the pepper and not erased yet."""
    from services.pins import PEPPERED

    return _count(database_url, Enrollment, Enrollment.secret_hash.like(f"{PEPPERED}%"))


def refuse_new_outbox_key(settings: Settings) -> None:
    """Raise KeyWouldChange when sealed messages wait that a new outbox key could not open."""
    waiting = count_sealed_messages(settings.resolved_database_url)
    if not waiting:
        return
    where = settings.outbox_key_file or settings.data_dir / "outbox_key.key"
    raise KeyWouldChange(
        f"the outbox key is missing but {waiting:,} sealed message(s) wait in the outbox and a "
        f"new key could not open them: set PORTAL_OUTBOX_KEY or PORTAL_OUTBOX_KEY_FILE to the "
        f"key they were sealed with (expected in {where}); no new key was made"
    )


def refuse_new_pin_pepper(settings: Settings) -> None:
    """Raise KeyWouldChange when PIN or answer hashes wait that a new pepper would not match."""
    waiting = count_peppered_secrets(settings.resolved_database_url)
    if not waiting:
        return
    where = settings.pin_pepper_file or settings.data_dir / "pin_pepper.key"
    raise KeyWouldChange(
        f"the PIN pepper is missing but {waiting:,} PIN(s) or answer(s) waiting to be used were "
        f"hashed with it and would stop working: set PORTAL_PIN_PEPPER or PORTAL_PIN_PEPPER_FILE "
        f"to the pepper they were made with (expected in {where}); no new pepper was made"
    )
