"""Writing an accepted file: look up only the file's keys, then insert and update patients,
guardians, providers, locations and appointments in bulk, in the caller's transaction.

An import never undoes the desk's Arrived: a visit Arrived on file that the file still calls
Booked (Scheduled, the only not-yet-arrived status) stays Arrived, and the report counts it as
kept; Completed, Cancelled and No show from the file apply as usual. The decision is made here,
in Python, so SQLite and PostgreSQL (postgres.py only writes) behave alike."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import Connection, String, any_, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Session

from models import (
    Appointment,
    AppointmentStatus,
    Guardian,
    Location,
    Patient,
    PatientGuardian,
    Provider,
)
from services.errors import quoted
from services.i18n import DEFAULT_LANGUAGE
from services.schedule_import import postgres, sqlite
from services.schedule_import.checks import Checker, Parsed, Scan, match_guardian
from services.schedule_import.report import ImportReport, Progress, RejectedRow

CHUNK = 1_000  # keys per IN list


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def _rows_for_keys(connection: Connection, query, column, keys: list) -> Iterator[Any]:
    """The rows of `query` whose `column` is one of `keys`.

    PostgreSQL takes all the keys as one array parameter (`= ANY`), in one round trip.
    SQLite gets IN lists of CHUNK keys; one statement with an expanding parameter serves
    every chunk, so SQLAlchemy compiles it once instead of building 1,000 literals per chunk."""
    if _postgres(connection):
        if keys:
            yield from connection.execute(
                query.where(column == any_(bindparam("keys", type_=ARRAY(column.type)))),
                {"keys": keys}).all()
        return
    statement = query.where(column.in_(bindparam("keys", expanding=True)))
    for chunk in _chunks(keys):
        yield from connection.execute(statement, {"keys": chunk}).all()


@dataclass
class Existing:
    patients: dict[str, Any] = field(default_factory=dict)  # MRN -> (id, first, last, dob)
    guardians: dict[int, list[Any]] = field(default_factory=dict)  # patient id -> rows


def load_existing(connection: Connection, practice_id: int, scan: Scan) -> Existing:
    """The practice's patients with the file's MRNs, and the guardians of those whose rows
    name a guardian."""
    existing = Existing()
    mrns = sorted({c.row.mrn for c in scan.candidates if c.row.mrn})
    for found in _rows_for_keys(
        connection,
        select(Patient.id, Patient.mrn, Patient.first_name, Patient.last_name,
               Patient.date_of_birth).where(Patient.practice_id == practice_id),
        Patient.mrn, mrns,
    ):
        existing.patients[found.mrn] = found
    with_guardians = sorted({existing.patients[c.row.mrn].id for c in scan.candidates
                             if c.guardians and c.row.mrn in existing.patients})
    for found in _rows_for_keys(
        connection,
        select(PatientGuardian.patient_id, Guardian.id, Guardian.first_name,
               Guardian.last_name, Guardian.relationship, Guardian.email, Guardian.cell_phone,
               Guardian.preferred_language)
        .join(Guardian, Guardian.id == PatientGuardian.guardian_id),
        PatientGuardian.patient_id, with_guardians,
    ):
        existing.guardians.setdefault(found.patient_id, []).append(found)
    return existing


def check_contacts(scan: Scan, checker: Checker, existing: Existing) -> tuple[dict, dict]:
    raw_emails, raw_phones = set(), set()
    for candidate in scan.candidates:
        for guardian in candidate.guardians:
            raw_emails.add(guardian.email)
            raw_phones.add(guardian.cell_phone)
    raw_emails.discard("")
    raw_phones.discard("")
    stored_emails, stored_phones = set(), set()
    for guardians in existing.guardians.values():
        for guardian in guardians:
            stored_emails.add(guardian.email)
            stored_phones.add(guardian.cell_phone)
    return (checker.check_emails(raw_emails, stored_emails),
            checker.check_phones(raw_phones, stored_phones))


# --- writing -------------------------------------------------------------------------------------


def _insert(connection: Connection, model: type, rows: list[dict]) -> None:
    """INSERT the rows (dicts with the same keys): COPY on PostgreSQL, else one executemany
    of plain tuples (`sqlite`)."""
    if not rows:
        return
    columns = list(rows[0])
    values = ([row[name] for name in columns] for row in rows)
    if _postgres(connection):
        postgres.copy_rows(connection, model.__tablename__, columns, values)
    else:
        sqlite.insert_rows(connection, model.__table__, columns, values)


def _insert_with_ids(connection: Connection, model: type, rows: list[dict]) -> list[int]:
    """INSERT the rows (dicts with the same keys); their new ids, in the order of `rows`.
    The ids are taken first (PostgreSQL: from the table's sequence), then written with them."""
    if not rows:
        return []
    if _postgres(connection):
        ids = postgres.next_ids(connection, model.__tablename__, len(rows))
    else:
        ids = sqlite.next_ids(connection, model.__table__, len(rows))
    columns = list(rows[0])
    values = ((row_id, *(row[name] for name in columns))
              for row_id, row in zip(ids, rows, strict=True))
    if _postgres(connection):
        postgres.copy_rows(connection, model.__tablename__, ("id", *columns), values)
    else:
        sqlite.insert_rows(connection, model.__table__, ("id", *columns), values)
    return ids


def _bulk_update(session: Session, model: type, changes: list[dict]) -> None:
    """UPDATE by primary key: each change is the row's id and its changed columns; changes
    with the same columns go together, in one UPDATE from a COPYed temporary table on
    PostgreSQL, else in one executemany (SQLAlchemy's ORM bulk UPDATE)."""
    if not changes:
        return
    changes.sort(key=lambda change: tuple(change))
    connection = session.connection()
    if not _postgres(connection):
        session.execute(update(model), changes)
        return
    groups: dict[tuple, list[tuple]] = {}
    for change in changes:
        columns = tuple(name for name in change if name != "id")
        groups.setdefault(columns, []).append(
            (change["id"], *(change[name] for name in columns)))
    for columns, rows in groups.items():
        postgres.update_by_id(connection, model.__tablename__, columns, rows)


def _lookup_names(connection: Connection, table, practice_id: int, names: set[str]
                  ) -> dict[str, int]:
    """Ids of the practice's rows with these names (matched without regard to case)."""
    folded = sorted({name.casefold() for name in names})
    return {name.casefold(): row_id for row_id, name in _rows_for_keys(
        connection, select(table.id, table.name).where(table.practice_id == practice_id),
        func.lower(table.name, type_=String), folded)}


def resolve_places(connection: Connection, parsed: Parsed, *, practice_id: int,
                   create_missing: bool) -> tuple[dict, dict, list]:
    """Provider and location ids by folded name. Rows naming unknown ones are rejected,
    unless those are to be created (returned as a list, created only if the import goes on)."""
    provider_names = {row.provider for row in parsed.rows}
    location_names = {row.location for row in parsed.rows}
    providers = _lookup_names(connection, Provider, practice_id, provider_names)
    locations = _lookup_names(connection, Location, practice_id, location_names)
    unknown_providers = {n for n in provider_names if n.casefold() not in providers}
    unknown_locations = {n for n in location_names if n.casefold() not in locations}
    if create_missing:
        to_create: list[tuple[type, str]] = []
        for table, names in ((Provider, unknown_providers), (Location, unknown_locations)):
            first_spelling: dict[str, str] = {}
            for name in sorted(names):
                first_spelling.setdefault(name.casefold(), name)
            to_create.extend((table, name) for _, name in sorted(first_spelling.items()))
        return providers, locations, to_create
    if unknown_providers or unknown_locations:
        kept = []
        for row in parsed.rows:
            problems = []
            if row.provider in unknown_providers:
                problems.append(f"Provider {quoted(row.provider)} is not set up in this practice")
            if row.location in unknown_locations:
                problems.append(f"Location {quoted(row.location)} is not set up in this practice")
            if problems:
                parsed.rejected.append(RejectedRow(
                    row.number, "; ".join(problems) + ": add it under Practice Settings, or "
                    "choose to create unknown providers and locations.", row.source_id))
            else:
                kept.append(row)
        parsed.rows = kept
    return providers, locations, []


def create_places(connection: Connection, practice_id: int, to_create: list,
                  providers: dict, locations: dict, report: ImportReport) -> None:
    for table, name in to_create:
        row_id = connection.execute(
            insert(table).values(practice_id=practice_id, name=name).returning(table.id)
        ).scalar_one()
        if table is Provider:
            providers[name.casefold()] = row_id
            report.providers_created.append(name)
        else:
            locations[name.casefold()] = row_id
            report.locations_created.append(name)


def upsert_patients(session: Session, practice_id: int, parsed: Parsed,
                    existing: Existing, report: ImportReport) -> tuple[dict[str, int], set]:
    """Patient ids by MRN, and the MRNs whose patient was created or changed."""
    connection = session.connection()
    wanted = {row.mrn for row in parsed.rows}
    ids: dict[str, int] = {}
    changed: set[str] = set()
    updates, new = [], []
    for mrn in wanted:
        first, last, born = parsed.patients[mrn].facts
        found = existing.patients.get(mrn)
        if found is None:
            new.append({"practice_id": practice_id, "mrn": mrn, "first_name": first,
                        "last_name": last, "date_of_birth": born})
            continue
        ids[mrn] = found.id
        if (found.first_name, found.last_name, found.date_of_birth) != (first, last, born):
            updates.append({"id": found.id, "first_name": first, "last_name": last,
                            "date_of_birth": born})
            changed.add(mrn)
    for patient_id, patient in zip(_insert_with_ids(connection, Patient, new), new,
                                   strict=True):
        ids[patient["mrn"]] = patient_id
        changed.add(patient["mrn"])
    _bulk_update(session, Patient, updates)
    report.patients_created, report.patients_updated = len(new), len(updates)
    return ids, changed


def upsert_guardians(session: Session, practice_id: int, parsed: Parsed,
                     patient_ids: dict[str, int], existing: Existing,
                     report: ImportReport) -> set[str]:
    """Match each guardian in the file to one of the patient's guardians by email or name;
    create or update as needed. Returns the MRNs whose guardians changed."""
    connection = session.connection()
    changed: set[str] = set()
    updates, new, owners = [], [], []
    for mrn, guardians in parsed.guardians.items():
        patient_id = patient_ids.get(mrn)
        if patient_id is None:
            continue  # every row of this patient was rejected
        on_file = existing.guardians.get(patient_id, [])
        for data in guardians:
            match = match_guardian(data, on_file)
            if match is None:
                new.append({"practice_id": practice_id, "first_name": data.first_name,
                            "last_name": data.last_name,
                            "relationship": data.relationship or "Parent",
                            "email": data.email, "cell_phone": data.cell_phone,
                            "preferred_language": data.language or DEFAULT_LANGUAGE})
                owners.append(patient_id)
                changed.add(mrn)
                continue
            # Empty values in the file leave what is on file.
            change = {name: getattr(data, name)
                      for name in ("first_name", "last_name", "relationship", "email",
                                   "cell_phone")
                      if getattr(data, name) and getattr(data, name) != getattr(match, name)}
            if data.language and data.language != match.preferred_language:
                change["preferred_language"] = data.language
            if change:
                updates.append({"id": match.id, **change})
                changed.add(mrn)
    created = _insert_with_ids(connection, Guardian, new)
    _insert(connection, PatientGuardian,
            [{"patient_id": patient_id, "guardian_id": guardian_id}
             for patient_id, guardian_id in zip(owners, created, strict=True)])
    _bulk_update(session, Guardian, updates)
    report.guardians_created, report.guardians_updated = len(new), len(updates)
    return changed


class AppointmentValues(NamedTuple):
    """The appointment columns an import writes and compares (besides practice and source)."""

    patient_id: int | None
    provider_id: int | None
    location_id: int | None
    start_at: Any
    visit_type: str
    status: str


APPOINTMENT_FIELDS = AppointmentValues._fields
STATUS_INDEX = APPOINTMENT_FIELDS.index("status")
SCHEDULED, ARRIVED = AppointmentStatus.scheduled.value, AppointmentStatus.arrived.value
KEPT_ARRIVED = "Kept Arrived: the desk checked the patient in; the file still says Booked"
# What a new appointment gets for a field the file does not carry.
NEW_APPOINTMENT = AppointmentValues(None, None, None, None, "", AppointmentStatus.scheduled.value)


def _stored_appointments(connection: Connection, practice_id: int, sources: list[str],
                         progress: Progress) -> tuple[dict[str, int], dict[str, tuple]]:
    """The practice's appointments with the file's source ids: their ids and their values
    (in APPOINTMENT_FIELDS order), by source id. Plain tuples, not AppointmentValues: an
    import holds 100,000 of them, and the garbage collector stops tracking a plain tuple of
    plain values but never a tuple subclass, which made comparing twice as slow."""
    ids: dict[str, int] = {}
    stored: dict[str, tuple] = {}
    for number, (source_id, appointment_id, *values) in enumerate(_rows_for_keys(
        connection,
        select(Appointment.source_id, Appointment.id,
               *(getattr(Appointment, name) for name in APPOINTMENT_FIELDS))
        .where(Appointment.practice_id == practice_id),
        Appointment.source_id, sources,
    ), start=1):
        ids[source_id] = appointment_id
        stored[source_id] = tuple(values)
        if number % 20_000 == 0:
            progress(0.6 + 0.2 * number / len(sources), f"Compared {number:,} appointments")
    return ids, stored


def _start_order(appointment: dict) -> tuple:
    return appointment["start_at"], appointment["provider_id"], appointment["location_id"]


def upsert_appointments(session: Session, practice_id: int, parsed: Parsed,
                        patient_ids: dict[str, int], providers: dict, locations: dict,
                        changed_mrns: set[str], report: ImportReport,
                        progress: Progress) -> None:
    connection = session.connection()
    rows = parsed.rows
    stored_ids, stored = _stored_appointments(connection, practice_id,
                                              [row.source_id for row in rows], progress)
    inserts, updates = [], []
    first_row_of: dict[str, int] = {}
    for row in rows:
        first_row_of.setdefault(row.mrn, row.number)
    outcomes = report.outcomes
    provider_of = {name: providers[name.casefold()] for name in {r.provider for r in rows}}
    location_of = {name: locations[name.casefold()] for name in {r.location for r in rows}}
    updated = 0
    for row in rows:
        on_file = stored.get(row.source_id)
        visit_type, status = row.visit_type, row.status
        if visit_type is None or status is None:
            # A field the file does not carry (None) keeps the value on file.
            kept = AppointmentValues._make(on_file) if on_file else NEW_APPOINTMENT
            visit_type = kept.visit_type if visit_type is None else visit_type
            status = kept.status if status is None else status
        kept_arrived = (on_file is not None and status == SCHEDULED
                        and on_file[STATUS_INDEX] == ARRIVED)
        if kept_arrived:
            status = ARRIVED
        values = (patient_ids[row.mrn], provider_of[row.provider], location_of[row.location],
                  row.start_at, visit_type, status)  # in APPOINTMENT_FIELDS order
        if on_file is None:
            inserts.append({"practice_id": practice_id, "source_id": row.source_id,
                            **dict(zip(APPOINTMENT_FIELDS, values, strict=True))})
            outcome = "created"
        elif on_file != values:
            updates.append({"id": stored_ids[row.source_id],
                            **dict(zip(APPOINTMENT_FIELDS, values, strict=True))})
            outcome = "updated"
        elif row.mrn in changed_mrns and first_row_of[row.mrn] == row.number:
            outcome = "updated"  # the patient or their guardians changed on this row
        else:
            outcome = "unchanged"
        updated += outcome == "updated"
        report.arrived_kept += kept_arrived
        outcomes.append((row.number, row.source_id, outcome, KEPT_ARRIVED if kept_arrived else ""))
    report.created = len(inserts)
    report.updated = updated
    report.unchanged = len(rows) - report.created - report.updated
    progress(0.85, f"Saving {len(inserts):,} new and {len(updates):,} changed appointments")
    # In visit order, which is the schedule indexes' order (practice, start, ...): their pages fill
    # one after another instead of at random, and a completed visit after its patient's others
    # only appends its visit fact (the visit-facts insert trigger); one entered before them
    # recomputes the patient.
    inserts.sort(key=_start_order)
    _insert(connection, Appointment, inserts)
    _bulk_update(session, Appointment, updates)
