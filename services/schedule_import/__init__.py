"""Schedule import from a practice system's CSV export or a FHIR R4 Bundle (JSON).

Both formats become the same checked rows, then one upsert: patients by (practice, MRN),
appointments by (practice, source id), guardians matched per patient by email or name. The work
is batched: only the keys present in the file are looked up (SQLite: IN lists of 1,000;
PostgreSQL: one array parameter), and rows are inserted with one executemany of plain tuples on
SQLite (`sqlite`), with COPY and UPDATE ... FROM a COPYed temporary table on PostgreSQL
(`postgres`); the cycle collector is paused meanwhile. Everything
runs in the caller's one transaction, so a file is imported whole or not at all; importing the
same file again changes nothing.

The rooms: `fields` (the field list and the column mapping: suggestions, checks, saved
mappings), `upload` (size, text, kind), `csv_file` (the CSV reader and preview), `fhir_bundle`
(the FHIR reader), `checks` (row checks), `upsert` (the writing; `postgres` and `sqlite` its bulk
writes), `report` (what an import tells its caller). This module holds the use case and
re-exports what callers use.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import threading
from collections.abc import Iterator

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models import Appointment, Guardian, Patient, PatientGuardian, Practice
from services.audit import record_event
from services.errors import Conflict, NotFound
from services.schedule_import import upsert
from services.schedule_import.checks import Checker, Scan, accept
from services.schedule_import.csv_file import preview_csv, read_csv, records, scan_csv
from services.schedule_import.fhir_bundle import read_bundle, scan_fhir
from services.schedule_import.fields import (
    FIELD_BY_KEY,
    FIELDS,
    ImportField,
    complete_mapping,
    load_mapping,
    save_mapping,
    suggest_mapping,
)
from services.schedule_import.report import (
    CSV_KIND,
    FHIR_KIND,
    ImportReport,
    ImportSetup,
    Progress,
    RejectedRow,
    report_csv,
)
from services.schedule_import.upload import file_kind
from services.settings import get_settings

__all__ = [
    "CSV_KIND", "FHIR_KIND", "FIELDS", "FIELD_BY_KEY", "ImportField", "ImportReport",
    "ImportSetup", "Progress", "RejectedRow", "file_kind", "import_schedule",
    "load_mapping", "prepare_import", "preview_csv", "report_csv", "save_mapping",
    "suggest_mapping",
]

# --- the page's first step -----------------------------------------------------------------------


def prepare_import(session: Session, *, practice_id: int, data: bytes, filename: str
                   ) -> ImportSetup:
    """Read a file's header and suggest a column mapping (the saved one first)."""
    if session.get(Practice, practice_id) is None:
        raise NotFound("That practice does not exist.")
    kind = file_kind(filename, data)
    if kind == FHIR_KIND:
        entries = read_bundle(data)
        return ImportSetup(kind=kind, filename=filename, headers=[], mapping={},
                           saved_mapping=False, rows=len(entries))
    csv_file = read_csv(data)
    saved = load_mapping(session, practice_id=practice_id)
    mapping = suggest_mapping(csv_file.headers, saved)
    rows = sum(1 for _, record in records(csv_file) if any(v.strip() for v in record))
    used_saved = bool(saved) and any(mapping.get(k) == v for k, v in saved.items())
    return ImportSetup(kind=kind, filename=filename, headers=csv_file.headers, mapping=mapping,
                       saved_mapping=used_saved, rows=rows)


# --- the use case --------------------------------------------------------------------------------


def import_schedule(
    session: Session,
    *,
    practice_id: int,
    data: bytes,
    filename: str,
    actor: str,
    mapping: dict[str, str | None] | None = None,
    create_missing: bool = False,
    keep_valid: bool = False,
    progress: Progress | None = None,
    today: dt.date | None = None,
) -> ImportReport:
    """Import a schedule file (CSV or FHIR Bundle) into a practice in the caller's one
    transaction: every row or none (unless `keep_valid`). Fields a CSV `mapping` leaves out
    (all of them without one) come from the practice's saved mapping or a guess from the
    headers; the mapping used is saved when the import goes through."""
    with _collector_paused():
        return _import(session, practice_id=practice_id, data=data, filename=filename,
                       actor=actor, mapping=mapping, create_missing=create_missing,
                       keep_valid=keep_valid, progress=progress, today=today)


_pauses = 0
_pauses_lock = threading.Lock()


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off while an import runs, then on again (if it was on).

    An import builds hundreds of thousands of small objects (rows, tuples, dicts) that hold
    no reference cycles; each full collection the allocations set off walks all of them again,
    which was a fifth of a 100,000-row import's CPU time. The objects are freed by reference
    counting as usual; cycles made meanwhile (by other threads too: the switch is the
    process's) wait for the next collection. Imports running at once share one pause."""
    global _pauses
    with _pauses_lock:
        if _pauses == 0 and not gc.isenabled():
            paused_here = False  # someone else turned it off: leave it to them
        else:
            paused_here = True
            _pauses += 1
            gc.disable()
    try:
        yield
    finally:
        if paused_here:
            with _pauses_lock:
                _pauses -= 1
                if _pauses == 0:
                    gc.enable()


def _import(session: Session, *, practice_id: int, data: bytes, filename: str, actor: str,
            mapping: dict[str, str | None] | None, create_missing: bool, keep_valid: bool,
            progress: Progress | None, today: dt.date | None) -> ImportReport:
    progress = progress or (lambda _fraction, _message: None)
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound("That practice does not exist.")
    kind = file_kind(filename, data)
    checker = Checker(timezone=practice.timezone, region=get_settings().phone_region,
                      today=today)
    report = ImportReport(kind=kind, filename=filename)
    progress(0.0, "Reading the file")
    if kind == FHIR_KIND:
        scan = scan_fhir(data, checker, progress)
    else:
        csv_file = read_csv(data)
        mapping = complete_mapping(mapping, csv_file.headers,
                                   load_mapping(session, practice_id=practice_id))
        scan = scan_csv(csv_file, mapping, checker, progress)
    report.rows, report.ignored = scan.read, scan.ignored
    connection = session.connection()
    with _large_sqlite_cache(connection):
        return _import_scan(session, connection, practice_id=practice_id, scan=scan,
                            checker=checker, report=report, mapping=mapping, kind=kind,
                            filename=filename, actor=actor, create_missing=create_missing,
                            keep_valid=keep_valid, progress=progress)


ANALYZE_AFTER_ROWS = 10_000


def _refresh_statistics(connection: Connection, report: ImportReport) -> None:
    """ANALYZE the tables a large import filled (PostgreSQL). Without fresh statistics the
    planner may look up the next file's keys through the wrong index, scanning the whole
    practice once per IN list; autovacuum's own ANALYZE can come much later."""
    written = report.created + report.patients_created + report.guardians_created
    if connection.dialect.name == "postgresql" and written >= ANALYZE_AFTER_ROWS:
        tables = ", ".join(t.__tablename__ for t in (Appointment, Patient, Guardian,
                                                      PatientGuardian))
        connection.exec_driver_sql(f"ANALYZE {tables}")


@contextlib.contextmanager
def _large_sqlite_cache(connection: Connection) -> Iterator[None]:
    """A 128 MB page cache for this connection while it imports, then the old size again:
    SQLite's default 2 MB makes a 100,000-row import re-read its index pages over and over."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql("PRAGMA cache_size=-131072")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


def _import_scan(session: Session, connection: Connection, *, practice_id: int, scan: Scan,
                 checker: Checker, report: ImportReport, mapping: dict | None, kind: str,
                 filename: str, actor: str, create_missing: bool, keep_valid: bool,
                 progress: Progress) -> ImportReport:
    """The import after the file is read: look up, check, then write (or refuse)."""
    progress(0.4, "Looking up patients already on file")
    existing = upsert.load_existing(connection, practice_id, scan)
    progress(0.45, "Checking guardian emails and phones")
    emails, phones = upsert.check_contacts(scan, checker, existing)
    parsed = accept(scan, emails, phones)
    progress(0.55, "Looking up providers and locations")
    providers, locations, to_create = upsert.resolve_places(
        connection, parsed, practice_id=practice_id, create_missing=create_missing)
    report.rejected = sorted(parsed.rejected, key=lambda r: r.row)
    if report.rejected and not keep_valid:
        report.outcomes = [(r.row, r.source_id, "rejected", r.reason)
                           for r in report.rejected]
        report.outcomes += [(row.number, row.source_id, "not imported", "")
                            for row in parsed.rows]
        progress(1.0, "Nothing imported")
        return report
    try:
        upsert.create_places(connection, practice_id, to_create, providers, locations, report)
        progress(0.57, "Saving patients and guardians")
        patient_ids, changed = upsert.upsert_patients(session, practice_id, parsed, existing,
                                                      report)
        changed |= upsert.upsert_guardians(session, practice_id, parsed, patient_ids,
                                           existing, report)
        progress(0.6, "Comparing appointments")
        upsert.upsert_appointments(session, practice_id, parsed, patient_ids, providers,
                                   locations, changed, report, progress)
        _refresh_statistics(connection, report)
        if kind == CSV_KIND:
            save_mapping(session, practice_id=practice_id, mapping=mapping)
        record_event(
            session, actor=actor, action="schedule_imported", practice_id=practice_id,
            file=filename, kind=kind, rows=report.rows, created=report.created,
            updated=report.updated, unchanged=report.unchanged, rejected=len(report.rejected),
            patients_created=report.patients_created, patients_updated=report.patients_updated,
            guardians_created=report.guardians_created,
            guardians_updated=report.guardians_updated,
            providers_created=report.providers_created,
            locations_created=report.locations_created,
        )
        session.flush()
    except IntegrityError:
        raise Conflict(
            "Another import or change touched the same patients or appointments at the same "
            "time; nothing was imported. Run the import again.") from None
    report.outcomes += [(r.row, r.source_id, "rejected", r.reason)
                        for r in report.rejected]
    report.committed = True
    progress(1.0, "Done")
    return report
