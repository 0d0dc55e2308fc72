"""Audit retention: archive old audit events to CSV, and only then prune them.

Audit events are documentation HIPAA asks to keep for six years, so nothing younger than that
(or than the practice's own, longer `audit_retention_years`) is ever deleted, and nothing is
deleted that is not in an archive written (and read back) first. Cells that a spreadsheet would
run as a formula are neutralised in the archive.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, or_, select
from sqlmodel import Session

from models import AuditEvent, Practice, utcnow
from services.ages import shift_years
from services.audit import record_event
from services.errors import Conflict, InvalidInput
from services.spreadsheet import SafeWriter

RETENTION_FLOOR_YEARS = 6
ARCHIVE_HEADER = ["id", "at_utc", "actor", "action", "practice_id", "patient_id", "detail"]


@dataclass(frozen=True)
class ArchiveReport:
    """What one export (and prune) did."""

    exported: int
    pruned: int
    kept_by_retention: int  # exported but younger than their practice's retention
    path: Path


def years_before(moment: dt.datetime, years: int) -> dt.datetime:
    """`moment` minus whole calendar years (29 February becomes 28 February)."""
    return shift_years(moment, -years)


def _as_cutoff(before: dt.date) -> dt.datetime:
    return dt.datetime.combine(before, dt.time(), dt.UTC)


def _write_archive(session: Session, *, cutoff: dt.datetime, practice_id: int | None,
                   dest: Path) -> tuple[int, int | None]:
    """Stream the events before `cutoff` into `dest`; returns (rows, highest id written)."""
    query = select(AuditEvent.id, AuditEvent.at, AuditEvent.actor, AuditEvent.action,
                   AuditEvent.practice_id, AuditEvent.patient_id, AuditEvent.detail
                   ).where(AuditEvent.at < cutoff).order_by(AuditEvent.id)
    if practice_id is not None:
        query = query.where(AuditEvent.practice_id == practice_id)
    written, highest = 0, None
    partial = dest.with_name(f".{dest.name}.partial")
    with partial.open("w", encoding="utf-8", newline="") as handle:
        writer = SafeWriter(handle)
        writer.writerow(ARCHIVE_HEADER)
        result = session.execute(query.execution_options(yield_per=5_000))
        for rows in result.partitions():
            writer.writerows(
                [row.id, row.at.astimezone(dt.UTC).isoformat(), row.actor,
                 row.action, row.practice_id or "", row.patient_id or "",
                 row.detail] for row in rows)
            written += len(rows)
            highest = rows[-1].id
        handle.flush()
        os.fsync(handle.fileno())
    partial.replace(dest)
    return written, highest


def _archived_rows(dest: Path) -> int:
    """Rows the archive on disk holds, read back before anything is deleted."""
    with dest.open(encoding="utf-8", newline="") as handle:
        return sum(1 for _ in csv.reader(handle)) - 1


def _prunable(session: Session, *, cutoff: dt.datetime, highest_id: int,
              practice_id: int | None, now: dt.datetime):
    """The condition for rows that were archived and are past every retention that applies."""
    floor = years_before(now, RETENTION_FLOOR_YEARS)
    conditions = [AuditEvent.at < cutoff, AuditEvent.id <= highest_id, AuditEvent.at < floor]
    if practice_id is not None:
        conditions.append(AuditEvent.practice_id == practice_id)
    longer = session.execute(
        select(Practice.id, Practice.audit_retention_years)
        .where(Practice.audit_retention_years > RETENTION_FLOOR_YEARS)).all()
    for practice, years in longer:
        conditions.append(or_(AuditEvent.practice_id.is_(None),
                              AuditEvent.practice_id != practice,
                              AuditEvent.at < years_before(now, years)))
    return conditions


def export_audit(session: Session, *, before: dt.date, dest: Path, prune: bool = False,
                 practice_id: int | None = None, actor: str = "cli",
                 now: dt.datetime | None = None) -> ArchiveReport:
    """Write the audit events older than `before` to the CSV `dest`; with `prune`, then delete
    those that are past the retention (never younger than six years, nor the practice's)."""
    now = now or utcnow()
    cutoff = _as_cutoff(before)
    floor = years_before(now, RETENTION_FLOOR_YEARS)
    if prune and cutoff > floor:
        raise InvalidInput(
            f"--before {before.isoformat()} is within the {RETENTION_FLOOR_YEARS}-year audit "
            f"retention: pruning may only remove events before {floor.date().isoformat()}")
    if dest.exists():
        raise Conflict(f"{dest} already exists: choose a new file name for the archive")
    if not dest.parent.is_dir():
        raise InvalidInput(f"the folder {dest.parent} does not exist")
    written, highest = _write_archive(session, cutoff=cutoff, practice_id=practice_id,
                                      dest=dest)
    session.rollback()  # the read is done; the delete below is its own short transaction
    if not prune or highest is None:
        return ArchiveReport(exported=written, pruned=0, kept_by_retention=0, path=dest)
    if _archived_rows(dest) != written:
        raise Conflict(f"the archive {dest} does not hold the {written:,} events just written: "
                       "nothing was pruned")
    pruned = session.execute(
        delete(AuditEvent).where(*_prunable(session, cutoff=cutoff, highest_id=highest,
                                            practice_id=practice_id, now=now))
        .execution_options(synchronize_session=False)).rowcount
    record_event(session, actor=actor, action="audit_pruned", practice_id=practice_id,
                 archive=dest.name, before=before.isoformat(), exported=written, pruned=pruned)
    session.commit()
    return ArchiveReport(exported=written, pruned=pruned, kept_by_retention=written - pruned,
                         path=dest)

