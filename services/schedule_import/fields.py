"""The fields a schedule file can carry, and the column mapping: suggestions from the
headers, the checks a mapping must pass, and each practice's saved mapping."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import Session

from models import ImportMapping, utcnow
from services.errors import InvalidInput, quoted
from services.schedule_import.report import CSV_KIND

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
    ImportField("guardian_language", "Guardian preferred language", False, (
        "preferred language", "language", "guardian language", "guardian preferred language",
        "parent language", "parent preferred language", "preferred lang", "lang", "idioma")),
)
FIELD_BY_KEY = {f.key: f for f in FIELDS}
REQUIRED = tuple(f.key for f in FIELDS if f.required)
GUARDIAN_KEYS = ("guardian_first_name", "guardian_last_name", "guardian_relationship",
                 "guardian_email", "guardian_phone", "guardian_language")
# A single "start" column may carry the date and the time together.
COMBINED_START = {"appointment start", "appointment datetime", "appointment date time",
                  "start", "start datetime", "start date time"}


_HEADER_JUNK = re.compile(r"[^0-9a-z]+")


def header_key(header: str) -> str:
    return _HEADER_JUNK.sub(" ", header.lower()).strip()


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
        by_key.setdefault(header_key(header), header)
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
        header_key(date_column) in COMBINED_START
    ):
        mapping["appointment_time"] = date_column
    return mapping


def complete_mapping(given: dict[str, str | None] | None, headers: list[str],
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


def unmapped(mapping: dict[str, str | None]) -> list[str]:
    """Labels of the required fields without a column; a guardian's contact details need
    the guardian's names too (a guardian cannot be created without them)."""
    missing = [FIELD_BY_KEY[key].label for key in REQUIRED if not mapping.get(key)]
    contact = [FIELD_BY_KEY[key].label for key in GUARDIAN_KEYS[2:] if mapping.get(key)]
    if contact:
        missing += [f"{FIELD_BY_KEY[key].label} (needed with {' and '.join(contact)})"
                    for key in GUARDIAN_KEYS[:2] if not mapping.get(key)]
    return missing


def check_mapping(mapping: dict[str, str | None], headers: list[str]) -> dict[str, int]:
    """Column positions for the mapped fields, or InvalidInput naming what is wrong."""
    mapping = {key: (column or None) for key, column in (mapping or {}).items()}
    unknown_fields = set(mapping) - set(FIELD_BY_KEY)
    if unknown_fields:
        raise InvalidInput(
            f"The mapping names unknown fields: {', '.join(sorted(unknown_fields))}. Known "
            f"fields: {', '.join(FIELD_BY_KEY)}.", field="mapping")
    missing = unmapped(mapping)
    if missing:
        raise InvalidInput(
            f"Choose a column for: {', '.join(missing)}. The file's columns are: "
            f"{', '.join(headers)}.", field="mapping")
    position = {header: index for index, header in enumerate(headers)}
    absent = [f"{quoted(column)} (for {FIELD_BY_KEY[key].label})"
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
                f"Column {quoted(column)} is chosen for both {FIELD_BY_KEY[owners[column]].label} "
                f"and {FIELD_BY_KEY[key].label}: choose one column per field.", field="mapping")
        owners.setdefault(column, key)
    return {key: position[column] for key, column in mapping.items() if column}


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
