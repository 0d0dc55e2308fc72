"""Row checks: each field of a row checked (cached per distinct value, since schedules repeat
dates, times and names), then the rows accepted or rejected against the rows before them."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import phonenumbers

from models import AppointmentStatus
from services.errors import InvalidInput, quoted
from services.i18n import normalize_language
from services.schedule_import.report import RejectedRow
from services.validation import normalize_email, normalize_phone

DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m-%d-%Y", "%Y/%m/%d", "%Y%m%d")
TIME_FORMATS = ("%H:%M", "%H:%M:%S", "%I:%M %p", "%I:%M%p", "%I:%M:%S %p", "%I %p")
STATUS_WORDS = {
    **dict.fromkeys(("scheduled", "booked", "confirmed", "pending", "proposed", "waitlist",
                     "rescheduled"), AppointmentStatus.scheduled.value),
    **dict.fromkeys(("arrived", "checked in", "checked-in", "checkedin", "here"),
                    AppointmentStatus.arrived.value),
    **dict.fromkeys(("completed", "complete", "fulfilled", "checked out", "checked-out",
                     "seen", "done"), AppointmentStatus.completed.value),
    **dict.fromkeys(("cancelled", "canceled", "cancel", "entered-in-error"),
                    AppointmentStatus.cancelled.value),
    **dict.fromkeys(("no show", "no_show", "noshow", "no-show", "dna", "did not attend"),
                    AppointmentStatus.no_show.value),
}
_LETTER = re.compile(r"[^\W\d_]")


class RawGuardian(NamedTuple):
    """A guardian as read from the file, before its email and cell phone are checked."""

    first_name: str
    last_name: str
    relationship: str | None
    email: str  # as written in the file
    cell_phone: str  # as written in the file
    language: str | None = None  # a language with a catalog; None: leave it as it is


class PatientFacts(NamedTuple):
    """A patient's name and date of birth as one row gives them."""

    first_name: str
    last_name: str
    date_of_birth: dt.date | None


class FilePatient(NamedTuple):
    """A patient of the file: the facts of its first accepted row, and that row's number."""

    facts: PatientFacts
    first_row: int


@dataclass(slots=True)
class GuardianData:
    first_name: str
    last_name: str
    relationship: str | None
    email: str | None
    cell_phone: str | None
    language: str | None = None


@dataclass(slots=True)
class Row:
    number: int
    source_id: str
    mrn: str
    provider: str
    location: str
    start_at: dt.datetime | None
    visit_type: str | None  # None: not in the file, leave as it is
    status: str | None


@dataclass(slots=True)
class Candidate:
    """A row whose fields are checked one by one; clashes between rows come later."""

    row: Row
    patient: PatientFacts
    guardians: tuple[RawGuardian, ...]
    problems: list[str]


@dataclass
class Scan:
    candidates: list[Candidate] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    read: int = 0
    ignored: int = 0


@dataclass
class Parsed:
    """The rows to import, their patients (by MRN) and guardians (by MRN)."""

    rows: list[Row] = field(default_factory=list)
    patients: dict[str, FilePatient] = field(default_factory=dict)
    guardians: dict[str, list[GuardianData]] = field(default_factory=dict)
    rejected: list[RejectedRow] = field(default_factory=list)


class Checker:
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
            problems.append(f"{label} {quoted(value)} is not a name")
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
            problems.append(f"Date of birth {quoted(value)} is {found}")
        elif found > self.today:
            problems.append(f"Date of birth {quoted(value)} is in the future")
        elif found.year < 1900:
            problems.append(f"Date of birth {quoted(value)} is before 1900")
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
                return self.in_range(moment.astimezone(dt.UTC), date_value)
            date_value, _, time_value = date_value.partition(" ")
        time_value = time_value.strip()
        if not time_value:
            return "Appointment time is empty"
        day = self._date(date_value)
        if isinstance(day, str):
            return f"Appointment date {quoted(date_value)} is {day}"
        moment = self._time(time_value)
        if isinstance(moment, str):
            return f"Appointment time {quoted(time_value)} is {moment}"
        return self.in_range(
            dt.datetime.combine(day, moment, tzinfo=self.zone).astimezone(dt.UTC), date_value)

    @staticmethod
    def in_range(moment: dt.datetime, shown: str) -> dt.datetime | str:
        if not 1990 <= moment.year <= 2100:
            return f"Appointment date {quoted(shown)} is not between 1990 and 2100"
        return moment.replace(microsecond=0)

    @staticmethod
    def status(value: str | None, problems: list[str]) -> str:
        word = " ".join((value or "").lower().replace("_", " ").split())
        if not word:
            return AppointmentStatus.scheduled.value
        found = STATUS_WORDS.get(word) or STATUS_WORDS.get(word.replace(" ", "-"))
        if found is None:
            problems.append(
                f"Status {quoted(value)} is not known: use scheduled, completed, cancelled "
                "or no show")
            return ""
        return found

    def guardian(self, values: tuple[str, ...], problems: list[str], *, label: str = ""
                 ) -> RawGuardian:
        """A guardian's names and relationship checked; email and phone come later."""
        prefix = f"{label} " if label else "Guardian "
        first_name, last_name, relationship, email, cell_phone, *language = values
        return RawGuardian(
            self.name(first_name, f"{prefix}first name", problems),
            self.name(last_name, f"{prefix}last name", problems),
            self.text(relationship, f"{prefix}relationship", problems, limit=40,
                      required=False) or None,
            email.strip(),
            cell_phone.strip(),
            # es, Spanish, Español, es-MX … ; a language without a catalog is left as it is.
            normalize_language(language[0]) if language else None,
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
        extension, a vanity number) make the number mean something else. A number written
        only with digits, spaces, ( ) . - and a leading + is parsed once however it is
        spaced: (617) 555-0142 and 617.555.0142 share the first one's answer."""
        country = f"+{phonenumbers.country_code_for_region(self.region)}"
        checked: dict[str, str | InvalidInput] = {}
        valid: dict[str, str] = {}  # "+digits" or "digits" as written -> E.164
        for raw in sorted(raws):
            digits = "".join(filter(str.isdigit, raw))
            guess = f"+{digits}" if raw.startswith("+") else f"{country}{digits}"
            if guess in stored and not any(map(str.isalpha, raw)):
                checked[raw] = guess
                continue
            key = _plain_number_key(raw, digits)
            if key in valid:
                checked[raw] = valid[key]
                continue
            try:
                checked[raw] = normalize_phone(raw, region=self.region,
                                               field="Guardian cell phone")
            except InvalidInput as error:
                checked[raw] = error  # the message quotes the raw text: not shared
            else:
                if key:
                    valid[key] = checked[raw]
        return checked


_PLAIN_NUMBER = re.compile(r"\+?[0-9 ().-]+")


def _plain_number_key(raw: str, digits: str) -> str:
    """The number's digits (after a + if it starts with one) when `raw` holds nothing that
    could change how they are read (no letters, extension marks or other signs), else ""."""
    if not _PLAIN_NUMBER.fullmatch(raw):
        return ""
    return f"+{digits}" if raw.startswith("+") else digits


def accept(scan: Scan, emails: dict[str, str | InvalidInput],
           phones: dict[str, str | InvalidInput]) -> Parsed:
    """Rows that passed every check and agree with the rows before them; the rest rejected."""
    parsed = Parsed(rejected=list(scan.rejected))
    seen_sources: dict[str, int] = {}
    seen_guardians: set[tuple] = set()
    patients = parsed.patients
    for candidate in scan.candidates:
        row, problems = candidate.row, candidate.problems
        contacts = []
        for guardian in candidate.guardians:
            email = emails.get(guardian.email) if guardian.email else None
            phone = phones.get(guardian.cell_phone) if guardian.cell_phone else None
            for checked in (email, phone):
                if isinstance(checked, InvalidInput):
                    problems.append(checked.message.rstrip("."))
            contacts.append((email, phone))
        if not problems:
            earlier = seen_sources.get(row.source_id)
            if earlier is not None:
                problems.append(
                    f"Appointment ID {quoted(row.source_id)} already appears on row {earlier}")
            known = patients.get(row.mrn)
            if known is not None and known.facts != candidate.patient:
                problems.append(f"MRN {quoted(row.mrn)} has a different name or date of birth on "
                                f"row {known.first_row}")
        if problems:
            parsed.rejected.append(RejectedRow(row.number, "; ".join(problems) + ".",
                                               row.source_id))
            continue
        seen_sources[row.source_id] = row.number
        if row.mrn not in patients:
            patients[row.mrn] = FilePatient(candidate.patient, row.number)
        for guardian, (email, phone) in zip(candidate.guardians, contacts, strict=True):
            if (row.mrn, guardian) in seen_guardians:
                continue
            seen_guardians.add((row.mrn, guardian))
            data = GuardianData(guardian.first_name, guardian.last_name,
                                guardian.relationship, email, phone, guardian.language)
            listed = parsed.guardians.setdefault(row.mrn, [])
            match = match_guardian(data, listed)
            if match is None:
                listed.append(data)
            else:  # the same parent on a later row: newer contact details win
                for name in ("relationship", "email", "cell_phone", "language"):
                    if getattr(data, name):
                        setattr(match, name, getattr(data, name))
        parsed.rows.append(row)
    return parsed


def match_guardian(guardian: GuardianData, candidates: Iterable[Any]) -> Any | None:
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
