"""The FHIR R4 Bundle reader: Appointment entries with their Patient, RelatedPerson,
Practitioner and Location become the same candidates as CSV rows.

Resources are parsed with `fhir.resources.R4B` (FHIR 4.3): the installed fhir.resources 8
defaults to R5, and R4B reads R4 (4.0.1) Appointment, Patient, RelatedPerson, Practitioner and
Location resources unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from services.errors import InvalidInput, quoted
from services.i18n import normalize_language
from services.schedule_import.checks import (
    Candidate,
    Checker,
    PatientFacts,
    RawGuardian,
    Row,
    Scan,
)
from services.schedule_import.report import Progress, RejectedRow
from services.schedule_import.upload import check_size, decode

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


def read_bundle(data: bytes) -> list:
    check_size(data)
    text = decode(data)
    try:
        bundle = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"The file is not valid JSON (line {error.lineno}, column {error.colno}: "
            f"{error.msg}). Export the FHIR Bundle again.", field="file") from None
    except RecursionError:
        raise InvalidInput(
            "The file is nested too deeply to read (more levels than any FHIR Bundle has): "
            "check that it is the right file.", field="file") from None
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        found = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise InvalidInput(
            f"The JSON file is not a FHIR Bundle (resourceType is {quoted(found)}): export a "
            "Bundle holding Appointment, Patient, RelatedPerson, Practitioner and Location "
            "resources.",
            field="file")
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("The FHIR Bundle has no entries.", field="file")
    return entries


@dataclass
class _Bundle:
    """The bundle's entries of the types the importer reads, found by fullUrl or type/id."""

    by_reference: dict[str, _Entry] = field(default_factory=dict)
    appointments: list[_Entry] = field(default_factory=list)
    related: list[_Entry] = field(default_factory=list)
    ignored: int = 0  # entries of other resource types

    def add(self, raw: dict, entry: _Entry, resource_id: str | None) -> None:
        for key in (raw.get("fullUrl"), f"{entry.kind}/{resource_id}" if resource_id else None):
            if key:
                self.by_reference[key] = entry
        if entry.kind == "Appointment":
            self.appointments.append(entry)
        elif entry.kind == "RelatedPerson":
            self.related.append(entry)

    def resolve(self, reference: str | None) -> _Entry | None:
        if not reference:
            return None
        found = self.by_reference.get(reference)
        if found is None and "/" in reference:
            found = self.by_reference.get("/".join(reference.rstrip("/").split("/")[-2:]))
        return found

    def guardians_of(self) -> dict[int, list[_Entry]]:
        """RelatedPerson entries by the entry number of the patient they belong to."""
        found: dict[int, list[_Entry]] = {}
        for entry in self.related:
            if entry.resource is not None and entry.resource.patient is not None:
                target = self.resolve(entry.resource.patient.reference)
                if target is not None:
                    found.setdefault(target.number, []).append(entry)
        return found


def _parse_entry(number: int, raw: Any) -> tuple[_Entry | None, str | None]:
    """The entry parsed (or its validation error), and its resource id; (None, None) for a
    resource type the importer does not read."""
    from fhir.resources.R4B import get_fhir_model_class

    resource = raw.get("resource") if isinstance(raw, dict) else None
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    if kind not in FHIR_TYPES:
        return None, None
    try:
        entry = _Entry(number, kind, get_fhir_model_class(kind).model_validate(resource))
    except ValidationError as error:
        entry = _Entry(number, kind, None, _fhir_error(error))
    return entry, resource.get("id")


def _read_entries(data: bytes, progress: Progress) -> _Bundle:
    raw_entries = read_bundle(data)
    bundle = _Bundle()
    for number, raw in enumerate(raw_entries, start=1):
        entry, resource_id = _parse_entry(number, raw)
        if entry is None:
            bundle.ignored += 1
            continue
        bundle.add(raw, entry, resource_id)
        if number % 5_000 == 0:
            progress(0.2 * number / len(raw_entries), f"Read {number:,} entries")
    return bundle


def scan_fhir(data: bytes, checker: Checker, progress: Progress) -> Scan:
    bundle = _read_entries(data, progress)
    scan = Scan(ignored=bundle.ignored)
    guardians_of = bundle.guardians_of()
    for entry in bundle.appointments:
        scan.read += 1
        if entry.resource is None:
            scan.rejected.append(
                RejectedRow(entry.number, f"Appointment is invalid: {entry.error}."))
            continue
        scan.candidates.append(_fhir_candidate(entry, bundle.resolve, guardians_of, checker))
    if scan.read == 0:
        raise InvalidInput("The FHIR Bundle holds no Appointment resources.", field="file")
    return scan


def _fhir_candidate(entry: _Entry, resolve: Callable, guardians_of: dict[int, list[_Entry]],
                    checker: Checker) -> Candidate:
    appointment = entry.resource
    problems: list[str] = []
    source_id = _fhir_source_id(appointment)
    if not source_id:
        problems.append("Appointment has no identifier and no id")
    status = Checker.status(appointment.status, problems)
    start = None
    if appointment.start is None:
        problems.append("Appointment has no start")
    else:
        start = checker.in_range(appointment.start.astimezone(dt.UTC), str(appointment.start))
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
    mrn, patient, guardians, provider, location = "", PatientFacts("", "", None), [], "", ""
    if not problems:
        patient_entry = actors["Patient"]
        mrn, patient = _fhir_patient(patient_entry, checker, problems)
        provider = _fhir_practitioner(actors["Practitioner"].resource, checker, problems)
        location = checker.text(actors["Location"].resource.name or "", "Location name",
                                problems, limit=200)
        # The child's preferred language stands for a guardian who states none of their own.
        family_language = preferred_language(patient_entry.resource)
        for guardian_entry in guardians_of.get(patient_entry.number, []):
            guardian = _fhir_guardian(guardian_entry, checker, problems)
            if guardian is not None and guardian.language is None and family_language:
                guardian = guardian._replace(language=family_language)
            guardians.append(guardian)
    row = Row(entry.number, source_id, mrn, provider, location, start,
              _fhir_visit_type(appointment), status)
    return Candidate(row, patient, tuple(g for g in guardians if g), problems)


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


def preferred_language(resource) -> str | None:
    """A supported language from `communication` (Patient, RelatedPerson): the one marked
    `preferred`, else the first; its code (`es`, `es-MX`) or its text (`Spanish`)."""
    communications = list(getattr(resource, "communication", None) or [])
    communications.sort(key=lambda item: not item.preferred)
    for item in communications:
        concept = item.language
        for value in [*(c.code for c in concept.coding or []), concept.text,
                      *(c.display for c in concept.coding or [])]:
            language = normalize_language(value)
            if language:
                return language
    return None


def _human_name(names) -> tuple[str, str]:
    """(first given name, family name) from the official name, else the first one."""
    if not names:
        return "", ""
    name = next((n for n in names if n.use == "official"), names[0])
    return (name.given[0] if name.given else ""), name.family or ""


def _fhir_patient(entry: _Entry, checker: Checker, problems: list[str]
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
    return mrn, PatientFacts(first, last, birth)


def _fhir_practitioner(practitioner, checker: Checker, problems: list[str]) -> str:
    name = ""
    if practitioner.name:
        chosen = next((n for n in practitioner.name if n.use == "official"),
                      practitioner.name[0])
        name = chosen.text or " ".join(
            [*(chosen.prefix or []), *(chosen.given or []), chosen.family or ""])
    return checker.text(name, "Practitioner name", problems, limit=200)


def _fhir_guardian(entry: _Entry, checker: Checker, problems: list[str]
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
    guardian = checker.guardian((first, last, relationship, email, phone), problems, label=label)
    return guardian._replace(language=preferred_language(person))
