"""Refusing a new outbox key while messages sealed with the old one still wait.

A second host started without the key, or a data folder restored without it, would otherwise
make a fresh key and every waiting PIN email would fail to open. This is the one place that
decides; `services.settings.outbox_key` calls it before it writes a new key.
"""

from __future__ import annotations

from sqlalchemy import func, inspect, select

from models import OutboxMessage
from services.settings import KeyWouldChange, Settings


def count_sealed_messages(database_url: str) -> int:
    """Outbox rows still holding a PIN sealed with the outbox key (0 before the first migrate)."""
    from services.db import READ_ONLY, get_engine

    engine = get_engine(database_url).execution_options(**{READ_ONLY: True})
    with engine.connect() as connection:
        if not inspect(connection).has_table(OutboxMessage.__tablename__):
            return 0
        count = connection.execute(
            select(func.count()).select_from(OutboxMessage)
            .where(OutboxMessage.sealed_secret.is_not(None))
        ).scalar_one()
        connection.rollback()
    return count


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
