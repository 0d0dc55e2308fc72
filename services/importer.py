"""Schedule import from a practice system's CSV export or a FHIR R4 Bundle (JSON).

Both formats become the same checked rows, then one upsert: patients by (practice, MRN),
appointments by (practice, source id), guardians matched per patient by email or name. The work
is batched: only the keys present in the file are looked up, in IN lists of 1,000, and rows are
inserted and updated with executemany. Everything runs in the caller's one transaction, so a
file is imported whole or not at all; importing the same file again changes nothing.

FHIR resources are parsed with `fhir.resources.R4B` (FHIR 4.3): the installed fhir.resources 8
defaults to R5, and R4B reads R4 (4.0.1) Appointment, Patient, RelatedPerson, Practitioner and
Location resources unchanged.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import re
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

import pandas as pd
import phonenumbers
from pydantic import ValidationError
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from models import (
    Appointment,
    AppointmentStatus,
    Guardian,
    ImportMapping,
    Location,
    Patient,
    PatientGuardian,
    Practice,
    Provider,
    utcnow,
)
from services.audit import record_event
from services.errors import Conflict, InvalidInput, NotFound
from services.settings import get_settings
from services.validation import normalize_email, normalize_phone

Progress = Callable[[float, str], None]
CHUNK = 1_000  # keys per IN list
CSV_KIND = "csv"
FHIR_KIND = "fhir"


# --- the fields a schedule file can carry --------------------------------------------------------


@dataclass(frozen=True)
class ImportField:
    """One thing the importer reads from a file, and the headers that usually hold it."""

    key: str
    label: str
    required: bool
    synonyms: tuple[str, ...]


FIELDS: tuple[ImportField, ...] = (
    ImportField("mrn", "MRN", True, (
        "mrn", "patient mrn", "medical record number", "med rec no", "mr number", "chart number",
        "chart no", "chart", "patient id", "patient number", "account number")),
    ImportField("patient_first_name", "Patient first name", True, (
        "patient first name", "first name", "patient first", "child first name", "firstname",
        "given name", "patient given name")),
    ImportField("patient_last_name", "Patient last name", True, (
        "patient last name", "last name", "patient last", "child last name", "lastname",
        "surname", "family name", "patient family name")),
    ImportField("date_of_birth", "Date of birth", True, (
        "date of birth", "dob", "birth date", "birthdate", "patient dob",
        "patient date of birth")),
    ImportField("source_id", "Appointment ID", True, (
        "appointment id", "appt id", "appointment number", "appointment no", "visit id",
        "encounter id", "source id", "schedule id", "id")),
    ImportField("appointment_date", "Appointment date", True, (
        "appointment date", "appt date", "visit date", "date", "start date",
        "appointment start", "appointment datetime", "appointment date time", "start",
        "start datetime", "start date time")),
    ImportField("appointment_time", "Appointment time", True, (
        "appointment time", "appt time", "start time", "time", "visit time")),
    ImportField("provider", "Provider", True, (
        "provider", "provider name", "doctor", "physician", "clinician", "resource",
        "rendering provider")),
    ImportField("location", "Location", True, (
        "location", "location name", "site", "office", "facility", "clinic", "department")),
    ImportField("visit_type", "Visit type", False, (
        "visit type", "appointment type", "appt type", "type", "visit reason", "reason")),
    ImportField("status", "Status", False, ("status", "appointment status", "appt status")),
    ImportField("guardian_first_name", "Guardian first name", False, (
        "guardian first name", "parent first name", "guarantor first name", "guardian first",
        "parent first", "responsible party first name")),
    ImportField("guardian_last_name", "Guardian last name", False, (
        "guardian last name", "parent last name", "guarantor last name", "guardian last",
        "parent last", "responsible party last name")),
    ImportField("guardian_relationship", "Guardian relationship", False, (
        "guardian relationship", "relationship", "relation", "parent relationship",
        "relationship to patient")),
    ImportField("guardian_email", "Guardian email", False, (
        "guardian email", "parent email", "guarantor email", "email", "email address",
        "e mail")),
    ImportField("guardian_phone", "Guardian cell phone", False, (
        "guardian cell phone", "guardian cell", "guardian phone", "parent cell phone",
        "parent cell", "parent phone", "cell phone", "mobile phone", "mobile", "cell", "phone")),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}
REQUIRED = tuple(f.key for f in FIELDS if f.required)
GUARDIAN_KEYS = ("guardian_first_name", "guardian_last_name", "guardian_relationship",
                 "guardian_email", "guardian_phone")
# A single "start" column may carry the date and the time together.
COMBINED_START = {"appointment start", "appointment datetime", "appointment date time",
                  "start", "start datetime", "start date time"}

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%Y/%m/%d", "%Y%m%d")
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M%p", "%I:%M:%S %p", "%I %p")
STATUS_WORDS = {
    **dict.fromkeys(("scheduled", "booked", "confirmed", "pending", "arrived", "checked in",
                     "checked-in", "proposed", "waitlist", "rescheduled"),
                    AppointmentStatus.scheduled.value),
    **dict.fromkeys(("completed", "complete", "fulfilled", "checked out", "checked-out",
                     "seen", "done"), AppointmentStatus.completed.value),
    **dict.fromkeys(("cancelled", "canceled", "cancel", "entered-in-error"),
                    AppointmentStatus.cancelled.value),
    **dict.fromkeys(("no show", "no_show", "noshow", "no-show", "dna", "did not attend"),
                    AppointmentStatus.no_show.value),
}
_LETTER = re.compile(r"[^\W\d_]")
_HEADER_JUNK = re.compile(r"[^0-9a-z]+")


def _header_key(header: str) -> str:
    return _HEADER_JUNK.sub(" ", header.lower()).strip()


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RejectedRow:
    """A row (CSV) or entry (FHIR) that was not imported, and why."""

    row: int
    reason: str
    source_id: str = ""


@dataclass(frozen=True)
class ImportSetup:
    """What the page needs to map a file's columns before importing it."""

    kind: str  # csv or fhir
    filename: str
    headers: list[str]
    mapping: dict[str, str | None]
    saved_mapping: bool  # the suggestion starts from the practice's saved mapping
    rows: int  # data rows (CSV) or entries (FHIR) in the file


@dataclass
class ImportReport:
    """What an import did: counts per appointment row, and every rejected row's reason."""

    kind: str
    filename: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    committed: bool = False
    patients_created: int = 0
    patients_updated: int = 0
    guardians_created: int = 0
    guardians_updated: int = 0
    providers_created: list[str] = field(default_factory=list)
    locations_created: list[str] = field(default_factory=list)
    ignored: int = 0  # FHIR entries of other resource types
    # (row, appointment id, outcome, reason) for every row read, for the downloadable report.
    outcomes: list[tuple[int, str, str, str]] = field(default_factory=list)

    @property
    def row_label(self) -> str:
        return "Entry" if self.kind == FHIR_KIND else "Row"

    @property
    def _rows_word(self) -> str:
        return "entries" if self.kind == FHIR_KIND else "rows"

    @property
    def summary(self) -> str:
        """One sentence for the page and the command line."""
        if not self.committed:
            valid = self.rows - len(self.rejected)
            return (
                f"Nothing was imported: {len(self.rejected):,} of {self.rows:,} "
                f"{self._rows_word} have problems (listed below). Fix them in the file, "
                f"or choose to keep the valid rows to import the other {valid:,}."
            )
        text = (
            f"Imported {self.rows - len(self.rejected):,} of {self.rows:,} "
            f"{self._rows_word}: {self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {len(self.rejected):,} rejected."
        )
        if self.providers_created or self.locations_created:
            made = [*self.providers_created, *self.locations_created]
            text += f" New providers and locations: {', '.join(made)}."
        return text


def report_csv(report: ImportReport) -> bytes:
    """The import report as CSV: one line per row read, with its outcome and reason."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([report.row_label, "Appointment ID", "Outcome", "Reason"])
    writer.writerows(sorted(report.outcomes))
    return buffer.getvalue().encode("utf-8-sig")


# --- reading files -------------------------------------------------------------------------------


def _check_size(data: bytes) -> None:
    limit = get_settings().max_upload_mb
    if len(data) > limit * 1024 * 1024:
        raise InvalidInput(
            f"The file is {len(data) / 1024 / 1024:.1f} MB; the largest accepted is {limit} MB "
            "(PORTAL_MAX_UPLOAD_MB). Export a shorter date range and import it in parts.",
            field="file",
        )


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidInput(
            f"The file is not UTF-8 text (byte 0x{data[error.start]:02X} on line {line}). "
            "Save it from your spreadsheet or practice system as 'CSV UTF-8' and upload it "
            "again.",
            field="file",
        ) from None


def file_kind(filename: str, data: bytes) -> str:
    """csv or fhir, from the file name, else from the first character."""
    name = (filename or "").lower()
    if name.endswith(".json"):
        return FHIR_KIND
    if name.endswith((".csv", ".txt", ".tsv")):
        return CSV_KIND
    return FHIR_KIND if data.lstrip()[:1] in (b"{", b"[") else CSV_KIND


@dataclass(frozen=True)
class _CsvFile:
    text: str
    headers: list[str]
    delimiter: str
    body_start: int  # offset of the first data line


def _read_csv(data: bytes) -> _CsvFile:
    _check_size(data)
    text = _decode(data)
    if not text.strip():
        raise InvalidInput("The file is empty: export the schedule again.", field="file")
    if "\x00" in text:
        raise InvalidInput(
            "The file holds binary data, not CSV text. If it is an Excel workbook, save it as "
            "'CSV UTF-8' first.", field="file")
    first_line = text.split("\n", 1)[0]
    counts = {d: first_line.count(d) for d in (",", ";", "\t", "|")}
    delimiter = max(counts, key=counts.get) if max(counts.values()) else ","
    reader = csv.reader(io.StringIO(first_line), delimiter=delimiter)
    headers = [h.strip() for h in next(reader, [])]
    if len(headers) < 2 or not all(headers):
        raise InvalidInput(
            "The first line must name the columns (for example MRN, First Name, Date of Birth, "
            "...); some header names are empty.", field="file")
    seen: set[str] = set()
    for header in headers:
        if header in seen:
            raise InvalidInput(f"Column {header!r} appears twice in the header: rename one.",
                               field="file")
        seen.add(header)
    return _CsvFile(text=text, headers=headers, delimiter=delimiter,
                    body_start=len(first_line) + 1)


def _records(csv_file: _CsvFile) -> Iterator[tuple[int, list[str]]]:
    """(spreadsheet row number, values) for each data row; the header is row 1."""
    # strict: an unclosed quote is an error, not a field that swallows the rest of the file.
    reader = csv.reader(io.StringIO(csv_file.text[csv_file.body_start:]),
                        delimiter=csv_file.delimiter, strict=True)
    number = 1
    try:
        for record in reader:
            number += 1
            yield number, record
    except csv.Error as error:
        raise InvalidInput(f"Row {number + 1} cannot be read as CSV: {error}. Check for a stray "
                           "quote character.", field="file") from None


def suggest_mapping(headers: list[str], saved: dict[str, str | None] | None = None
                    ) -> dict[str, str | None]:
    """A column for each field: the saved mapping where its columns exist, else a guess."""
    present = set(headers)
    mapping: dict[str, str | None] = dict.fromkeys(FIELD_BY_KEY)
    used: set[str] = set()
    for key, column in (saved or {}).items():
        if key in mapping and column in present:
            mapping[key] = column
            used.add(column)
    by_key = {}
    for header in headers:
        by_key.setdefault(_header_key(header), header)
    for import_field in FIELDS:
        if mapping[import_field.key]:
            continue
        for synonym in import_field.synonyms:
            header = by_key.get(synonym)
            if header and header not in used:
                mapping[import_field.key] = header
                used.add(header)
                break
    date_column = mapping["appointment_date"]
    if not mapping["appointment_time"] and date_column and (
        _header_key(date_column) in COMBINED_START
    ):
        mapping["appointment_time"] = date_column
    return mapping


def _complete_mapping(given: dict[str, str | None] | None, headers: list[str],
                      saved: dict[str, str | None] | None) -> dict[str, str | None]:
    """`given` with the fields it leaves out filled from the saved mapping or a guess; a
    field given as None stays unmapped, and a guess never takes a column `given` uses."""
    given = dict(given or {})
    if set(FIELD_BY_KEY) <= set(given):
        return given
    taken = {column for column in given.values() if column}
    suggested = suggest_mapping(headers, saved)
    return {**{key: (None if column in taken else column)
               for key, column in suggested.items()}, **given}


def _unmapped(mapping: dict[str, str | None]) -> list[str]:
    """Labels of the required fields without a column; a guardian's contact details need
    the guardian's names too (a guardian cannot be created without them)."""
    missing = [FIELD_BY_KEY[key].label for key in REQUIRED if not mapping.get(key)]
    contact = [FIELD_BY_KEY[key].label for key in GUARDIAN_KEYS[2:] if mapping.get(key)]
    if contact:
        missing += [f"{FIELD_BY_KEY[key].label} (needed with {' and '.join(contact)})"
                    for key in GUARDIAN_KEYS[:2] if not mapping.get(key)]
    return missing


def _check_mapping(mapping: dict[str, str | None], headers: list[str]) -> dict[str, int]:
    """Column positions for the mapped fields, or InvalidInput naming what is wrong."""
    mapping = {key: (column or None) for key, column in (mapping or {}).items()}
    unknown_fields = set(mapping) - set(FIELD_BY_KEY)
    if unknown_fields:
        raise InvalidInput(
            f"The mapping names unknown fields: {', '.join(sorted(unknown_fields))}. Known "
            f"fields: {', '.join(FIELD_BY_KEY)}.", field="mapping")
    missing = _unmapped(mapping)
    if missing:
        raise InvalidInput(
            f"Choose a column for: {', '.join(missing)}. The file's columns are: "
            f"{', '.join(headers)}.", field="mapping")
    position = {header: index for index, header in enumerate(headers)}
    absent = [f"{column!r} (for {FIELD_BY_KEY[key].label})"
              for key, column in mapping.items() if column and column not in position]
    if absent:
        raise InvalidInput(
            f"Missing columns: {', '.join(absent)} not in the file. Its columns are: "
            f"{', '.join(headers)}.", field="mapping")
    owners: dict[str, str] = {}
    for key, column in mapping.items():
        if not column:
            continue
        if column in owners and {owners[column], key} != {"appointment_date",
                                                          "appointment_time"}:
            raise InvalidInput(
                f"Column {column!r} is chosen for both {FIELD_BY_KEY[owners[column]].label} "
                f"and {FIELD_BY_KEY[key].label}: choose one column per field.", field="mapping")
        owners.setdefault(column, key)
    return {key: position[column] for key, column in mapping.items() if column}


# --- checking values -----------------------------------------------------------------------------

# A guardian as read from the file, before its email and cell phone are checked:
# (first name, last name, relationship or None, raw email, raw cell phone).
RawGuardian = tuple[str, str, "str | None", str, str]


@dataclass(slots=True)
class _GuardianData:
    first_name: str
    last_name: str
    relationship: str | None
    email: str | None
    cell_phone: str | None


@dataclass(slots=True)
class _Row:
    number: int
    source_id: str
    mrn: str
    provider: str
    location: str
    start_at: dt.datetime | None
    visit_type: str | None  # None: not in the file, leave as it is
    status: str | None


@dataclass(slots=True)
class _Candidate:
    """A row whose fields are checked one by one; clashes between rows come later."""

    row: _Row
    patient: tuple[str, str, dt.date | None]  # first name, last name, date of birth
    guardians: tuple[RawGuardian, ...]
    problems: list[str]


@dataclass
class _Scan:
    candidates: list[_Candidate] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    read: int = 0
    ignored: int = 0


@dataclass
class _Parsed:
    """The rows to import, their patients (by MRN) and guardians (by MRN)."""

    rows: list[_Row] = field(default_factory=list)
    patients: dict[str, tuple[str, str, dt.date, int]] = field(default_factory=dict)
    guardians: dict[str, list[_GuardianData]] = field(default_factory=dict)
    rejected: list[RejectedRow] = field(default_factory=list)


class _Checker:
    """Field checks, cached per distinct value: schedules repeat dates, times and names."""

    def __init__(self, *, timezone: str, region: str, today: dt.date | None = None) -> None:
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.region = region
        self.today = today or dt.datetime.now(self.zone).date()
        self._dates: dict[str, dt.date | str] = {}
        self._times: dict[str, dt.time | str] = {}
        self._starts: dict[tuple[str, str | None], dt.datetime | str] = {}

    @staticmethod
    def text(value: str, label: str, problems: list[str], *, limit: int,
             required: bool = True) -> str:
        value = " ".join(value.split()) if value else ""
        if not value:
            if required:
                problems.append(f"{label} is empty")
            return ""
        if not value.isprintable():
            problems.append(f"{label} holds control characters")
        elif len(value) > limit:
            problems.append(f"{label} is longer than {limit} characters")
        return value

    def name(self, value: str, label: str, problems: list[str]) -> str:
        value = self.text(value, label, problems, limit=100)
        if value and not _LETTER.search(value):
            problems.append(f"{label} {value!r} is not a name")
        return value

    @staticmethod
    def _parse(value: str, cache: dict, patterns, part: str, problem: str):
        # Schedules repeat the same few dates and times; each distinct text is parsed once.
        found = cache.get(value)
        if found is None:
            found = problem
            for pattern in patterns:
                try:
                    found = getattr(dt.datetime.strptime(value, pattern), part)()
                    break
                except ValueError:
                    continue
            cache[value] = found
        return found

    def _date(self, value: str) -> dt.date | str:
        return self._parse(value, self._dates, DATE_FORMATS, "date",
                           "not a date: use YYYY-MM-DD or MM/DD/YYYY")

    def _time(self, value: str) -> dt.time | str:
        return self._parse(value, self._times, TIME_FORMATS, "time",
                           "not a time: use HH:MM (24-hour) or H:MM AM")

    def birth_date(self, value: str, problems: list[str]) -> dt.date | None:
        value = value.strip()
        if not value:
            problems.append("Date of birth is empty")
            return None
        found = self._date(value)
        if isinstance(found, str):
            problems.append(f"Date of birth {value!r} is {found}")
        elif found > self.today:
            problems.append(f"Date of birth {value!r} is in the future")
        elif found.year < 1900:
            problems.append(f"Date of birth {value!r} is before 1900")
        else:
            return found
        return None

    def start(self, date_value: str, time_value: str | None, problems: list[str]
              ) -> dt.datetime | None:
        """The appointment's start in UTC from the practice's local date and time
        (`time_value` None: the date column holds both)."""
        key = (date_value, time_value)
        found = self._starts.get(key)
        if found is None:
            found = self._start(date_value.strip(), time_value)
            self._starts[key] = found
        if isinstance(found, str):
            problems.append(found)
            return None
        return found

    def _start(self, date_value: str, time_value: str | None) -> dt.datetime | str:
        if not date_value:
            return "Appointment date is empty"
        if time_value is None:
            try:
                moment = dt.datetime.fromisoformat(date_value)
            except ValueError:
                moment = None
            if moment is not None:
                if moment.tzinfo is None:
                    moment = moment.replace(tzinfo=self.zone)
                return self._in_range(moment.astimezone(dt.UTC), date_value)
            date_value, _, time_value = date_value.partition(" ")
        time_value = time_value.strip()
        if not time_value:
            return "Appointment time is empty"
        day = self._date(date_value)
        if isinstance(day, str):
            return f"Appointment date {date_value!r} is {day}"
        moment = self._time(time_value)
        if isinstance(moment, str):
            return f"Appointment time {time_value!r} is {moment}"
        return self._in_range(
            dt.datetime.combine(day, moment, tzinfo=self.zone).astimezone(dt.UTC), date_value)

    @staticmethod
    def _in_range(moment: dt.datetime, shown: str) -> dt.datetime | str:
        if not 1990 <= moment.year <= 2100:
            return f"Appointment date {shown!r} is not between 1990 and 2100"
        return moment.replace(microsecond=0)

    @staticmethod
    def status(value: str | None, problems: list[str]) -> str:
        word = " ".join((value or "").lower().replace("_", " ").split())
        if not word:
            return AppointmentStatus.scheduled.value
        found = STATUS_WORDS.get(word) or STATUS_WORDS.get(word.replace(" ", "-"))
        if found is None:
            problems.append(
                f"Status {value.strip()!r} is not known: use scheduled, completed, cancelled "
                "or no show")
            return ""
        return found

    def guardian(self, values: tuple[str, ...], problems: list[str], *, label: str = ""
                 ) -> RawGuardian:
        """A guardian's names and relationship checked; email and phone come later."""
        prefix = f"{label} " if label else "Guardian "
        return (
            self.name(values[0], f"{prefix}first name", problems),
            self.name(values[1], f"{prefix}last name", problems),
            self.text(values[2], f"{prefix}relationship", problems, limit=40,
                      required=False) or None,
            values[3].strip(),
            values[4].strip(),
        )

    def check_emails(self, raws: set[str], stored: set[str]) -> dict[str, str | InvalidInput]:
        """Each raw guardian email normalised, or the error; one equal to an address already
        on file was checked when it was stored and is taken as it is."""
        checked: dict[str, str | InvalidInput] = {}
        for raw in raws:
            if raw in stored:
                checked[raw] = raw
                continue
            try:
                checked[raw] = normalize_email(raw, field="Guardian email")
            except InvalidInput as error:
                checked[raw] = error
        return checked

    def check_phones(self, raws: set[str], stored: set[str]) -> dict[str, str | InvalidInput]:
        """Each raw cell phone in E.164, or the error; the digits of a number already on
        file (with the region's country code) are taken as they are, unless letters (an
        extension, a vanity number) make the number mean something else."""
        country = f"+{phonenumbers.country_code_for_region(self.region)}"
        checked: dict[str, str | InvalidInput] = {}
        for raw in raws:
            digits = "".join(filter(str.isdigit, raw))
            guess = f"+{digits}" if raw.startswith("+") else f"{country}{digits}"
            if guess in stored and not any(map(str.isalpha, raw)):
                checked[raw] = guess
                continue
            try:
                checked[raw] = normalize_phone(raw, region=self.region,
                                               field="Guardian cell phone")
            except InvalidInput as error:
                checked[raw] = error
        return checked


class _CsvRows:
    """Turns CSV records into candidates; each repeated part of a row (the patient, the
    place, the parent) is checked once per distinct value."""

    def __init__(self, headers: list[str], index: dict[str, int], checker: _Checker) -> None:
        width = len(headers)
        self.width = width

        def at(*keys: str) -> Callable[[list[str]], tuple[str, ...]]:
            # Fields that are not mapped read the empty value appended to every record.
            return itemgetter(*(index.get(key, width) for key in keys))

        self.patient_values = at("mrn", "patient_first_name", "patient_last_name",
                                 "date_of_birth")
        self.place_values = at("provider", "location", "visit_type", "status")
        self.guardian_values = at(*GUARDIAN_KEYS)
        self.source_at = index.get("source_id", width)
        self.date_at = index.get("appointment_date", width)
        self.time_at = index.get("appointment_time", width)
        self.combined = self.date_at == self.time_at
        self.has_visit_type, self.has_status = "visit_type" in index, "status" in index
        self.has_guardian = any(key in index for key in GUARDIAN_KEYS)
        self.checker = checker
        self._patients: dict[tuple, tuple] = {}
        self._places: dict[tuple, tuple] = {}
        self._guardians: dict[tuple, tuple] = {}

    def _patient(self, values: tuple[str, ...]) -> tuple:
        problems: list[str] = []
        check = self.checker
        mrn = check.text(values[0], "MRN", problems, limit=64)
        patient = (check.name(values[1], "Patient first name", problems),
                   check.name(values[2], "Patient last name", problems),
                   check.birth_date(values[3], problems))
        return mrn, patient, tuple(problems)

    def _place(self, values: tuple[str, ...]) -> tuple:
        problems: list[str] = []
        check = self.checker
        return (check.text(values[0], "Provider", problems, limit=200),
                check.text(values[1], "Location", problems, limit=200),
                check.text(values[2], "Visit type", problems, limit=80, required=False)
                if self.has_visit_type else None,
                check.status(values[3], problems) if self.has_status else None,
                tuple(problems))

    def _guardian(self, values: tuple[str, ...]) -> tuple:
        if not any(value.strip() for value in values):
            return (), ()
        problems: list[str] = []
        return (self.checker.guardian(values, problems),), tuple(problems)

    def candidate(self, number: int, record: list[str]) -> _Candidate:
        record.append("")
        values = self.patient_values(record)
        found = self._patients.get(values)
        if found is None:
            found = self._patients[values] = self._patient(values)
        mrn, patient, problems = found
        problems = list(problems)
        source_id = record[self.source_at].strip()
        if not source_id or len(source_id) > 100 or not source_id.isprintable() \
                or "  " in source_id:
            source_id = self.checker.text(source_id, "Appointment ID", problems, limit=100)
        start = self.checker.start(record[self.date_at],
                                   None if self.combined else record[self.time_at], problems)
        values = self.place_values(record)
        place = self._places.get(values)
        if place is None:
            place = self._places[values] = self._place(values)
        provider, location, visit_type, status, place_problems = place
        problems.extend(place_problems)
        guardians: tuple = ()
        if self.has_guardian:
            values = self.guardian_values(record)
            found = self._guardians.get(values)
            if found is None:
                found = self._guardians[values] = self._guardian(values)
            guardians, guardian_problems = found
            problems.extend(guardian_problems)
        row = _Row(number, source_id, mrn, provider, location, start, visit_type, status)
        return _Candidate(row, patient, guardians, problems)


def _width_problem(record: list[str], width: int) -> str:
    return (f"Row has {len(record)} values but the header has {width} columns: check for "
            "stray commas or quotes.")


def _scan_csv(csv_file: _CsvFile, mapping: dict[str, str | None], checker: _Checker,
              progress: Progress) -> _Scan:
    reader = _CsvRows(csv_file.headers, _check_mapping(mapping, csv_file.headers), checker)
    total = max(1, csv_file.text.count("\n"))
    scan = _Scan()
    for number, record in _records(csv_file):
        if not any(record) or (len(record) == 1 and not record[0].strip()):
            continue  # blank lines are not rows
        scan.read += 1
        if scan.read % 10_000 == 0:
            progress(0.4 * number / total, f"Checked {scan.read:,} rows")
        if len(record) != reader.width:
            scan.rejected.append(RejectedRow(number, _width_problem(record, reader.width)))
            continue
        scan.candidates.append(reader.candidate(number, record))
    if scan.read == 0:
        raise InvalidInput("The file has a header but no rows: export the schedule again.",
                           field="file")
    return scan


def _accept(scan: _Scan, emails: dict[str, str | InvalidInput],
            phones: dict[str, str | InvalidInput]) -> _Parsed:
    """Rows that passed every check and agree with the rows before them; the rest rejected."""
    parsed = _Parsed(rejected=list(scan.rejected))
    seen_sources: dict[str, int] = {}
    seen_guardians: set[tuple] = set()
    patients = parsed.patients
    for candidate in scan.candidates:
        row, problems = candidate.row, candidate.problems
        contacts = []
        for guardian in candidate.guardians:
            email = emails.get(guardian[3]) if guardian[3] else None
            phone = phones.get(guardian[4]) if guardian[4] else None
            for checked in (email, phone):
                if isinstance(checked, InvalidInput):
                    problems.append(checked.message.rstrip("."))
            contacts.append((email, phone))
        if not problems:
            earlier = seen_sources.get(row.source_id)
            if earlier is not None:
                problems.append(
                    f"Appointment ID {row.source_id!r} already appears on row {earlier}")
            known = patients.get(row.mrn)
            if known is not None and known[:3] != candidate.patient:
                problems.append(
                    f"MRN {row.mrn!r} has a different name or date of birth on row {known[3]}")
        if problems:
            parsed.rejected.append(RejectedRow(row.number, "; ".join(problems) + ".",
                                               row.source_id))
            continue
        seen_sources[row.source_id] = row.number
        if row.mrn not in patients:
            patients[row.mrn] = (*candidate.patient, row.number)
        for guardian, (email, phone) in zip(candidate.guardians, contacts, strict=True):
            if (row.mrn, guardian) in seen_guardians:
                continue
            seen_guardians.add((row.mrn, guardian))
            data = _GuardianData(guardian[0], guardian[1], guardian[2], email, phone)
            listed = parsed.guardians.setdefault(row.mrn, [])
            match = _match_guardian(data, listed)
            if match is None:
                listed.append(data)
            else:  # the same parent on a later row: newer contact details win
                for name in ("relationship", "email", "cell_phone"):
                    if getattr(data, name):
                        setattr(match, name, getattr(data, name))
        parsed.rows.append(row)
    return parsed


def _match_guardian(guardian: _GuardianData, candidates: Iterable[Any]) -> Any | None:
    """The candidate with the same email (any case), else the same first and last name."""
    email = (guardian.email or "").casefold()
    name = (guardian.first_name.casefold(), guardian.last_name.casefold())
    by_name = None
    for candidate in candidates:
        if email and (candidate.email or "").casefold() == email:
            return candidate
        if by_name is None and (candidate.first_name.casefold(),
                                candidate.last_name.casefold()) == name:
            by_name = candidate
    return by_name


# --- FHIR ----------------------------------------------------------------------------------------

FHIR_TYPES = ("Appointment", "Patient", "RelatedPerson", "Practitioner", "Location")
RELATIONSHIP_CODES = {
    "MTH": "Mother", "FTH": "Father", "PRN": "Parent", "GRD": "Guardian", "NMTH": "Mother",
    "NFTH": "Father", "STPMTH": "Stepmother", "STPFTH": "Stepfather", "GRMTH": "Grandmother",
    "GRFTH": "Grandfather", "GRPRN": "Grandparent", "FAMMEMB": "Family member",
}


@dataclass
class _Entry:
    number: int
    kind: str
    resource: Any | None  # the parsed R4B model, or None when invalid
    error: str = ""


def _fhir_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part != "__root__")
    message = " ".join(first.get("msg", "invalid").replace("Value error, ", "").split())
    return f"{where}: {message}" if where else message


def _read_bundle(data: bytes) -> list:
    _check_size(data)
    text = _decode(data)
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"The file is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg}). Export the FHIR Bundle again.", field="file") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        found = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise InvalidInput(
            f"The JSON file is not a FHIR Bundle (resourceType is {found!r}): export a Bundle "
            "holding Appointment, Patient, RelatedPerson, Practitioner and Location resources.",
            field="file")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("The FHIR Bundle has no entries.", field="file")
    return entries


def _scan_fhir(data: bytes, checker: _Checker, progress: Progress) -> _Scan:
    from fhir.resources.R4B import get_fhir_model_class

    raw_entries = _read_bundle(data)
    scan = _Scan()
    entries: dict[str, _Entry] = {}
    appointments: list[_Entry] = []
    related: list[_Entry] = []
    for number, raw in enumerate(raw_entries, start=1):
        resource = raw.get("resource") if isinstance(raw, dict) else None
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        if kind not in FHIR_TYPES:
            scan.ignored += 1
            continue
        try:
            entry = _Entry(number, kind, get_fhir_model_class(kind).model_validate(resource))
        except ValidationError as error:
            entry = _Entry(number, kind, None, _fhir_error(error))
        resource_id = resource.get("id")
        for key in (raw.get("fullUrl"), f"{kind}/{resource_id}" if resource_id else None):
            if key:
                entries[key] = entry
        if kind == "Appointment":
            appointments.append(entry)
        elif kind == "RelatedPerson":
            related.append(entry)
        if number % 5_000 == 0:
            progress(0.2 * number / len(raw_entries), f"Read {number:,} entries")

    def resolve(reference: str | None) -> _Entry | None:
        if not reference:
            return None
        found = entries.get(reference)
        if found is None and "/" in reference:
            found = entries.get("/".join(reference.rstrip("/").split("/")[-2:]))
        return found

    guardians_of: dict[int, list[_Entry]] = {}
    for entry in related:
        if entry.resource is not None and entry.resource.patient is not None:
            target = resolve(entry.resource.patient.reference)
            if target is not None:
                guardians_of.setdefault(target.number, []).append(entry)

    for entry in appointments:
        scan.read += 1
        if entry.resource is None:
            scan.rejected.append(
                RejectedRow(entry.number, f"Appointment is invalid: {entry.error}."))
            continue
        scan.candidates.append(_fhir_candidate(entry, resolve, guardians_of, checker))
    if scan.read == 0:
        raise InvalidInput("The FHIR Bundle holds no Appointment resources.", field="file")
    return scan


def _fhir_candidate(entry: _Entry, resolve: Callable, guardians_of: dict[int, list[_Entry]],
                    checker: _Checker) -> _Candidate:
    appointment = entry.resource
    problems: list[str] = []
    source_id = _fhir_source_id(appointment)
    if not source_id:
        problems.append("Appointment has no identifier and no id")
    status = _Checker.status(appointment.status, problems)
    start = None
    if appointment.start is None:
        problems.append("Appointment has no start")
    else:
        start = checker._in_range(appointment.start.astimezone(dt.UTC), str(appointment.start))
        if isinstance(start, str):
            problems.append(start)
            start = None
    actors: dict[str, _Entry] = {}
    for participant in appointment.participant or []:
        target = resolve(participant.actor.reference if participant.actor else None)
        if target is not None:
            actors.setdefault(target.kind, target)
    for kind in ("Patient", "Practitioner", "Location"):
        target = actors.get(kind)
        if target is None:
            problems.append(f"Appointment has no {kind} participant in the bundle")
        elif target.resource is None:
            problems.append(f"{kind} (entry {target.number}) is invalid: {target.error}")
    mrn, patient, guardians, provider, location = "", ("", "", None), [], "", ""
    if not problems:
        patient_entry = actors["Patient"]
        mrn, patient = _fhir_patient(patient_entry, checker, problems)
        provider = _fhir_practitioner(actors["Practitioner"].resource, checker, problems)
        location = checker.text(actors["Location"].resource.name or "", "Location name",
                                problems, limit=200)
        for guardian_entry in guardians_of.get(patient_entry.number, []):
            guardians.append(_fhir_guardian(guardian_entry, checker, problems))
    row = _Row(entry.number, source_id, mrn, provider, location, start,
               _fhir_visit_type(appointment), status)
    return _Candidate(row, patient, tuple(g for g in guardians if g), problems)


def _fhir_source_id(appointment) -> str:
    for identifier in appointment.identifier or []:
        if identifier.value and identifier.value.strip():
            return identifier.value.strip()[:100]
    return (appointment.id or "").strip()


def _concept_text(concept) -> str:
    if concept is None:
        return ""
    if concept.text:
        return concept.text
    for coding in concept.coding or []:
        if coding.display or coding.code:
            return coding.display or coding.code
    return ""


def _fhir_visit_type(appointment) -> str:
    text = _concept_text(appointment.appointmentType)
    if not text:
        for concept in appointment.serviceType or []:
            text = _concept_text(concept)
            if text:
                break
    return " ".join(text.split())[:80]


def _human_name(names) -> tuple[str, str]:
    """(first given name, family name) from the official name, else the first one."""
    if not names:
        return "", ""
    name = next((n for n in names if n.use == "official"), names[0])
    return (name.given[0] if name.given else ""), name.family or ""


def _fhir_patient(entry: _Entry, checker: _Checker, problems: list[str]
                  ) -> tuple[str, tuple[str, str, dt.date | None]]:
    patient = entry.resource
    mrn = ""
    for identifier in patient.identifier or []:
        codes = {c.code for c in (identifier.type.coding or [])} if identifier.type else set()
        if "MR" in codes and identifier.value:
            mrn = identifier.value
            break
    if not mrn:
        mrn = next((i.value for i in patient.identifier or [] if i.value), "")
    label = f"Patient (entry {entry.number})"
    mrn = checker.text(mrn, f"{label} MRN identifier", problems, limit=64)
    first, last = _human_name(patient.name)
    first = checker.name(first, f"{label} given name", problems)
    last = checker.name(last, f"{label} family name", problems)
    birth = None
    if isinstance(patient.birthDate, dt.date):
        birth = checker.birth_date(patient.birthDate.isoformat(), problems)
    else:
        problems.append(f"{label} has no full birthDate (YYYY-MM-DD)")
    return mrn, (first, last, birth)


def _fhir_practitioner(practitioner, checker: _Checker, problems: list[str]) -> str:
    name = ""
    if practitioner.name:
        chosen = next((n for n in practitioner.name if n.use == "official"),
                      practitioner.name[0])
        name = chosen.text or " ".join(
            [*(chosen.prefix or []), *(chosen.given or []), chosen.family or ""])
    return checker.text(name, "Practitioner name", problems, limit=200)


def _fhir_guardian(entry: _Entry, checker: _Checker, problems: list[str]
                   ) -> RawGuardian | None:
    label = f"RelatedPerson (entry {entry.number})"
    if entry.resource is None:
        problems.append(f"{label} is invalid: {entry.error}")
        return None
    person = entry.resource
    first, last = _human_name(person.name)
    relationship = ""
    for concept in person.relationship or []:
        codes = [c.code for c in concept.coding or [] if c.code in RELATIONSHIP_CODES]
        relationship = RELATIONSHIP_CODES[codes[0]] if codes else _concept_text(concept)
        if relationship:
            break
    email = phone = ""
    for point in person.telecom or []:
        if point.system == "email" and not email:
            email = point.value or ""
        elif point.system in ("phone", "sms") and point.value and (
            not phone or point.use == "mobile"
        ):
            phone = point.value
    return checker.guardian((first, last, relationship, email, phone), problems, label=label)


# --- saved mappings ------------------------------------------------------------------------------


def load_mapping(session: Session, *, practice_id: int, kind: str = CSV_KIND
                 ) -> dict[str, str | None] | None:
    """The practice's saved column mapping, or None."""
    saved = session.execute(
        select(ImportMapping.mapping_json).where(ImportMapping.practice_id == practice_id,
                                                 ImportMapping.kind == kind)
    ).scalar()
    if saved is None:
        return None
    try:
        loaded = json.loads(saved)
    except json.JSONDecodeError:
        return None
    if not isinstance(loaded, dict):
        return None
    return {key: column for key, column in loaded.items() if key in FIELD_BY_KEY}


def save_mapping(session: Session, *, practice_id: int, mapping: dict[str, str | None],
                 kind: str = CSV_KIND) -> None:
    """Remember a practice's column mapping for its next import."""
    clean = {key: column for key, column in mapping.items() if key in FIELD_BY_KEY and column}
    text = json.dumps(clean, sort_keys=True)
    saved = session.execute(
        select(ImportMapping).where(ImportMapping.practice_id == practice_id,
                                    ImportMapping.kind == kind)
    ).scalar()
    if saved is None:
        session.add(ImportMapping(practice_id=practice_id, kind=kind, mapping_json=text))
    elif saved.mapping_json != text:
        saved.mapping_json = text
        saved.updated_at = utcnow()
        session.add(saved)


# --- the page's first step and the preview -------------------------------------------------------


def prepare_import(session: Session, *, practice_id: int, data: bytes, filename: str
                   ) -> ImportSetup:
    """Read a file's header and suggest a column mapping (the saved one first)."""
    if session.get(Practice, practice_id) is None:
        raise NotFound("That practice does not exist.")
    kind = file_kind(filename, data)
    if kind == FHIR_KIND:
        entries = _read_bundle(data)
        return ImportSetup(kind=kind, filename=filename, headers=[], mapping={},
                           saved_mapping=False, rows=len(entries))
    csv_file = _read_csv(data)
    saved = load_mapping(session, practice_id=practice_id)
    mapping = suggest_mapping(csv_file.headers, saved)
    rows = sum(1 for _, record in _records(csv_file) if any(v.strip() for v in record))
    used_saved = bool(saved) and any(mapping.get(k) == v for k, v in saved.items())
    return ImportSetup(kind=kind, filename=filename, headers=csv_file.headers, mapping=mapping,
                       saved_mapping=used_saved, rows=rows)


def preview_csv(data: bytes, *, mapping: dict[str, str | None], timezone: str,
                region: str = "US", limit: int = 5) -> pd.DataFrame:
    """The first rows as the mapping reads them, with each row's problems (nothing written)."""
    csv_file = _read_csv(data)
    position = {header: i for i, header in enumerate(csv_file.headers)}
    index = {key: position[column] for key, column in mapping.items() if column in position}
    missing = _unmapped({key: column for key, column in mapping.items() if key in index})
    checker = _Checker(timezone=timezone, region=region)
    reader = _CsvRows(csv_file.headers, index, checker)
    lines = []
    for number, record in _records(csv_file):
        if not any(v.strip() for v in record):
            continue
        line: dict[str, Any] = {"Row": number}
        for import_field in FIELDS:
            if import_field.key in index:
                line[import_field.label] = (record[index[import_field.key]]
                                            if index[import_field.key] < len(record) else "")
        if len(record) != reader.width:
            problems = [_width_problem(record, reader.width).rstrip(".")]
        else:
            candidate = reader.candidate(number, list(record))
            problems = candidate.problems
            for guardian in candidate.guardians:
                emails = checker.check_emails({guardian[3]} - {""}, set())
                phones = checker.check_phones({guardian[4]} - {""}, set())
                problems += [checked.message.rstrip(".") for checked in
                             (*emails.values(), *phones.values())
                             if isinstance(checked, InvalidInput)]
        if missing:
            problems = [f"No column chosen for {', '.join(missing)}"]
        line["Problem"] = "; ".join(problems)
        lines.append(line)
        if len(lines) >= limit:
            break
    return pd.DataFrame(lines)


# --- what the database holds already (only the file's keys) --------------------------------------


def _chunks(items: list, size: int = CHUNK) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _rows_for_keys(connection: Connection, query, column, keys: list) -> Iterator[Any]:
    """The rows of `query` whose `column` is one of `keys`, in IN lists of CHUNK keys.

    One statement with an expanding parameter serves every chunk, so SQLAlchemy compiles
    it once instead of building 1,000 literals per chunk."""
    statement = query.where(column.in_(bindparam("keys", expanding=True)))
    for chunk in _chunks(keys):
        yield from connection.execute(statement, {"keys": chunk}).all()


@dataclass
class _Existing:
    patients: dict[str, Any] = field(default_factory=dict)  # MRN -> (id, first, last, dob)
    guardians: dict[int, list[Any]] = field(default_factory=dict)  # patient id -> rows


def _load_existing(connection: Connection, practice_id: int, scan: _Scan) -> _Existing:
    """The practice's patients with the file's MRNs, and the guardians of those whose rows
    name a guardian."""
    existing = _Existing()
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
               Guardian.last_name, Guardian.relationship, Guardian.email, Guardian.cell_phone)
        .join(Guardian, Guardian.id == PatientGuardian.guardian_id),
        PatientGuardian.patient_id, with_guardians,
    ):
        existing.guardians.setdefault(found.patient_id, []).append(found)
    return existing


def _check_contacts(scan: _Scan, checker: _Checker, existing: _Existing) -> tuple[dict, dict]:
    raw_emails, raw_phones = set(), set()
    for candidate in scan.candidates:
        for guardian in candidate.guardians:
            raw_emails.add(guardian[3])
            raw_phones.add(guardian[4])
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


def _bulk_update(connection: Connection, table, changes: list[dict]) -> None:
    """UPDATE by primary key with executemany, one statement per set of changed columns."""
    groups: dict[tuple, list[dict]] = {}
    for change in changes:
        groups.setdefault(tuple(sorted(change)), []).append(change)
    target = table.__table__
    for keys, group in groups.items():
        columns = [key for key in keys if key != "id"]
        statement = (update(target).where(target.c.id == bindparam("key_id"))
                     .values({column: bindparam(f"new_{column}") for column in columns}))
        for chunk in _chunks(group, 5_000):
            connection.execute(statement, [
                {"key_id": change["id"], **{f"new_{c}": change[c] for c in columns}}
                for change in chunk
            ])


def _lookup_names(connection: Connection, table, practice_id: int, names: set[str]
                  ) -> dict[str, int]:
    """Ids of the practice's rows with these names (matched without regard to case)."""
    folded = sorted({name.casefold() for name in names})
    return {name.casefold(): row_id for row_id, name in _rows_for_keys(
        connection, select(table.id, table.name).where(table.practice_id == practice_id),
        func.lower(table.name), folded)}


def _resolve_places(connection: Connection, parsed: _Parsed, *, practice_id: int,
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
                problems.append(f"Provider {row.provider!r} is not set up in this practice")
            if row.location in unknown_locations:
                problems.append(f"Location {row.location!r} is not set up in this practice")
            if problems:
                parsed.rejected.append(RejectedRow(
                    row.number, "; ".join(problems) + ": add it under Practice Settings, or "
                    "choose to create unknown providers and locations.", row.source_id))
            else:
                kept.append(row)
        parsed.rows = kept
    return providers, locations, []


def _create_places(connection: Connection, practice_id: int, to_create: list,
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


def _upsert_patients(connection: Connection, practice_id: int, parsed: _Parsed,
                     existing: _Existing, report: ImportReport) -> tuple[dict[str, int], set]:
    """Patient ids by MRN, and the MRNs whose patient was created or changed."""
    wanted = {row.mrn for row in parsed.rows}
    ids: dict[str, int] = {}
    changed: set[str] = set()
    updates, new = [], []
    for mrn in wanted:
        first, last, born, _row = parsed.patients[mrn]
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
    statement = insert(Patient).returning(Patient.id, Patient.mrn, sort_by_parameter_order=True)
    for chunk in _chunks(new, 5_000):
        for patient_id, mrn in connection.execute(statement, chunk):
            ids[mrn] = patient_id
            changed.add(mrn)
    _bulk_update(connection, Patient, updates)
    report.patients_created, report.patients_updated = len(new), len(updates)
    return ids, changed


def _upsert_guardians(connection: Connection, practice_id: int, parsed: _Parsed,
                      patient_ids: dict[str, int], existing: _Existing,
                      report: ImportReport) -> set[str]:
    """Match each guardian in the file to one of the patient's guardians by email or name;
    create or update as needed. Returns the MRNs whose guardians changed."""
    changed: set[str] = set()
    updates, new, owners = [], [], []
    for mrn, guardians in parsed.guardians.items():
        patient_id = patient_ids.get(mrn)
        if patient_id is None:
            continue  # every row of this patient was rejected
        on_file = existing.guardians.get(patient_id, [])
        for data in guardians:
            match = _match_guardian(data, on_file)
            if match is None:
                new.append({"practice_id": practice_id, "first_name": data.first_name,
                            "last_name": data.last_name,
                            "relationship": data.relationship or "Parent",
                            "email": data.email, "cell_phone": data.cell_phone})
                owners.append(patient_id)
                changed.add(mrn)
                continue
            # Empty values in the file leave what is on file.
            change = {name: getattr(data, name)
                      for name in ("first_name", "last_name", "relationship", "email",
                                   "cell_phone")
                      if getattr(data, name) and getattr(data, name) != getattr(match, name)}
            if change:
                updates.append({"id": match.id, **change})
                changed.add(mrn)
    statement = insert(Guardian).returning(Guardian.id, sort_by_parameter_order=True)
    links = []
    for start in range(0, len(new), 5_000):
        created = connection.execute(statement, new[start:start + 5_000]).scalars().all()
        links.extend({"patient_id": patient_id, "guardian_id": guardian_id}
                     for patient_id, guardian_id in zip(owners[start:start + 5_000], created,
                                                        strict=True))
    for chunk in _chunks(links, 5_000):
        connection.execute(insert(PatientGuardian), chunk)
    _bulk_update(connection, Guardian, updates)
    report.guardians_created, report.guardians_updated = len(new), len(updates)
    return changed


APPOINTMENT_FIELDS = ("patient_id", "provider_id", "location_id", "start_at", "visit_type",
                      "status")


def _upsert_appointments(connection: Connection, practice_id: int, parsed: _Parsed,
                         patient_ids: dict[str, int], providers: dict, locations: dict,
                         changed_mrns: set[str], report: ImportReport,
                         progress: Progress) -> None:
    rows = parsed.rows
    existing: dict[str, tuple] = {}
    sources = [row.source_id for row in rows]
    for number, found in enumerate(_rows_for_keys(
        connection,
        select(Appointment.source_id, Appointment.id,
               *(getattr(Appointment, name) for name in APPOINTMENT_FIELDS))
        .where(Appointment.practice_id == practice_id),
        Appointment.source_id, sources,
    ), start=1):
        existing[found[0]] = tuple(found[1:])
        if number % 20_000 == 0:
            progress(0.6 + 0.2 * number / len(sources), f"Compared {number:,} appointments")
    inserts, updates = [], []
    first_row_of: dict[str, int] = {}
    for row in rows:
        first_row_of.setdefault(row.mrn, row.number)
    outcomes = report.outcomes
    scheduled = AppointmentStatus.scheduled.value
    provider_of = {name: providers[name.casefold()] for name in {r.provider for r in rows}}
    location_of = {name: locations[name.casefold()] for name in {r.location for r in rows}}
    for row in rows:
        found = existing.get(row.source_id)
        # A field the file does not carry (None) keeps the value on file.
        values = (
            patient_ids[row.mrn],
            provider_of[row.provider],
            location_of[row.location],
            row.start_at,
            row.visit_type if row.visit_type is not None else found[5] if found else "",
            row.status if row.status is not None else found[6] if found else scheduled,
        )
        if found is None:
            inserts.append({"practice_id": practice_id, "source_id": row.source_id,
                            **dict(zip(APPOINTMENT_FIELDS, values, strict=True))})
            outcome = "created"
        elif found[1:] != values:
            updates.append({"id": found[0], **dict(zip(APPOINTMENT_FIELDS, values,
                                                       strict=True))})
            outcome = "updated"
        elif row.mrn in changed_mrns and first_row_of[row.mrn] == row.number:
            outcome = "updated"  # the patient or their guardians changed on this row
        else:
            outcome = "unchanged"
        outcomes.append((row.number, row.source_id, outcome, ""))
    report.created = len(inserts)
    report.updated = sum(1 for outcome in outcomes if outcome[2] == "updated")
    report.unchanged = len(rows) - report.created - report.updated
    progress(0.85, f"Saving {len(inserts):,} new and {len(updates):,} changed appointments")
    for chunk in _chunks(inserts, 5_000):
        connection.execute(insert(Appointment), chunk)
    _bulk_update(connection, Appointment, updates)


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
    progress = progress or (lambda _fraction, _message: None)
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound("That practice does not exist.")
    kind = file_kind(filename, data)
    checker = _Checker(timezone=practice.timezone, region=get_settings().phone_region,
                       today=today)
    report = ImportReport(kind=kind, filename=filename)
    progress(0.0, "Reading the file")
    if kind == FHIR_KIND:
        scan = _scan_fhir(data, checker, progress)
    else:
        csv_file = _read_csv(data)
        mapping = _complete_mapping(mapping, csv_file.headers,
                                    load_mapping(session, practice_id=practice_id))
        scan = _scan_csv(csv_file, mapping, checker, progress)
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


def _import_scan(session: Session, connection: Connection, *, practice_id: int, scan: _Scan,
                 checker: _Checker, report: ImportReport, mapping: dict | None, kind: str,
                 filename: str, actor: str, create_missing: bool, keep_valid: bool,
                 progress: Progress) -> ImportReport:
    """The import after the file is read: look up, check, then write (or refuse)."""
    progress(0.4, "Looking up patients already on file")
    existing = _load_existing(connection, practice_id, scan)
    progress(0.45, "Checking guardian emails and phones")
    emails, phones = _check_contacts(scan, checker, existing)
    parsed = _accept(scan, emails, phones)
    progress(0.55, "Looking up providers and locations")
    providers, locations, to_create = _resolve_places(
        connection, parsed, practice_id=practice_id, create_missing=create_missing)
    report.rejected = sorted(parsed.rejected, key=lambda r: r.row)
    if report.rejected and not keep_valid:
        report.outcomes = [(r.row, r.source_id, "rejected", r.reason) for r in report.rejected]
        report.outcomes += [(row.number, row.source_id, "not imported", "")
                            for row in parsed.rows]
        progress(1.0, "Nothing imported")
        return report
    try:
        _create_places(connection, practice_id, to_create, providers, locations, report)
        progress(0.57, "Saving patients and guardians")
        patient_ids, changed = _upsert_patients(connection, practice_id, parsed, existing,
                                                report)
        changed |= _upsert_guardians(connection, practice_id, parsed, patient_ids, existing,
                                     report)
        progress(0.6, "Comparing appointments")
        _upsert_appointments(connection, practice_id, parsed, patient_ids, providers,
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
    report.outcomes += [(r.row, r.source_id, "rejected", r.reason) for r in report.rejected]
    report.committed = True
    progress(1.0, "Done")
    return report
