"""The CSV reader: the header and delimiter, the rows as candidates for the row checks, and
the preview the page shows before importing."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import pandas as pd

from services.errors import InvalidInput, quoted
from services.schedule_import.checks import Candidate, Checker, PatientFacts, Row, Scan
from services.schedule_import.fields import FIELDS, GUARDIAN_KEYS, check_mapping, unmapped
from services.schedule_import.report import Progress, RejectedRow
from services.schedule_import.upload import check_size, decode


@dataclass(frozen=True)
class CsvFile:
    text: str
    headers: list[str]
    delimiter: str
    body_start: int  # offset of the first data line


def read_csv(data: bytes) -> CsvFile:
    check_size(data)
    text = decode(data)
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
            raise InvalidInput(f"Column {quoted(header)} appears twice in the header: rename one.",
                               field="file")
        seen.add(header)
    return CsvFile(text=text, headers=headers, delimiter=delimiter,
                   body_start=len(first_line) + 1)


def records(csv_file: CsvFile) -> Iterator[tuple[int, list[str]]]:
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


class CsvRows:
    """Turns CSV records into candidates; each repeated part of a row (the patient, the
    place, the parent) is checked once per distinct value."""

    def __init__(self, headers: list[str], index: dict[str, int], checker: Checker) -> None:
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

    def _patient(self, values: tuple[str, ...]) -> tuple[str, PatientFacts, tuple[str, ...]]:
        """(MRN, name and date of birth, problems)."""
        mrn, first_name, last_name, born = values
        problems: list[str] = []
        check = self.checker
        mrn = check.text(mrn, "MRN", problems, limit=64)
        patient = PatientFacts(check.name(first_name, "Patient first name", problems),
                               check.name(last_name, "Patient last name", problems),
                               check.birth_date(born, problems))
        return mrn, patient, tuple(problems)

    def _place(self, values: tuple[str, ...]) -> tuple:
        """(provider, location, visit type, status, problems)."""
        provider, location, visit_type, status = values
        problems: list[str] = []
        check = self.checker
        return (check.text(provider, "Provider", problems, limit=200),
                check.text(location, "Location", problems, limit=200),
                check.text(visit_type, "Visit type", problems, limit=80, required=False)
                if self.has_visit_type else None,
                check.status(status, problems) if self.has_status else None,
                tuple(problems))

    def _guardian(self, values: tuple[str, ...]) -> tuple:
        # A language alone (no name, relationship or contact) names no guardian.
        if not any(value.strip() for value in values[:5]):
            return (), ()
        problems: list[str] = []
        return (self.checker.guardian(values, problems),), tuple(problems)

    def candidate(self, number: int, record: list[str]) -> Candidate:
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
        row = Row(number, source_id, mrn, provider, location, start, visit_type, status)
        return Candidate(row, patient, guardians, problems)


def width_problem(record: list[str], width: int) -> str:
    return (f"Row has {len(record)} values but the header has {width} columns: check for "
            "stray commas or quotes.")


def scan_csv(csv_file: CsvFile, mapping: dict[str, str | None], checker: Checker,
             progress: Progress) -> Scan:
    reader = CsvRows(csv_file.headers, check_mapping(mapping, csv_file.headers), checker)
    total = max(1, csv_file.text.count("\n"))
    scan = Scan()
    for number, record in records(csv_file):
        if not any(record) or (len(record) == 1 and not record[0].strip()):
            continue  # blank lines are not rows
        scan.read += 1
        if scan.read % 10_000 == 0:
            progress(0.4 * number / total, f"Checked {scan.read:,} rows")
        if len(record) != reader.width:
            scan.rejected.append(RejectedRow(number, width_problem(record, reader.width)))
            continue
        scan.candidates.append(reader.candidate(number, record))
    if scan.read == 0:
        raise InvalidInput("The file has a header but no rows: export the schedule again.",
                           field="file")
    return scan


def preview_csv(data: bytes, *, mapping: dict[str, str | None], timezone: str,
                region: str = "US", limit: int = 5) -> pd.DataFrame:
    """The first rows as the mapping reads them, with each row's problems (nothing written)."""
    csv_file = read_csv(data)
    position = {header: i for i, header in enumerate(csv_file.headers)}
    index = {key: position[column] for key, column in mapping.items() if column in position}
    missing = unmapped({key: column for key, column in mapping.items() if key in index})
    checker = Checker(timezone=timezone, region=region)
    reader = CsvRows(csv_file.headers, index, checker)
    lines = []
    for number, record in records(csv_file):
        if not any(v.strip() for v in record):
            continue
        line: dict[str, Any] = {"Row": number}
        for import_field in FIELDS:
            if import_field.key in index:
                line[import_field.label] = (record[index[import_field.key]]
                                            if index[import_field.key] < len(record) else "")
        if len(record) != reader.width:
            problems = [width_problem(record, reader.width).rstrip(".")]
        else:
            candidate = reader.candidate(number, list(record))
            problems = candidate.problems
            for guardian in candidate.guardians:
                emails = checker.check_emails({guardian.email} - {""}, set())
                phones = checker.check_phones({guardian.cell_phone} - {""}, set())
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
