"""A realistic synthetic practice for demos and benchmarks (deterministic for a seed)."""

from __future__ import annotations

import datetime as dt
import random
import secrets
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker
from sqlalchemy import func, insert, select, text
from sqlmodel import Session

from models import (
    Appointment,
    AppointmentStatus,
    Enrollment,
    EnrollmentMethod,
    EnrollmentStatus,
    Guardian,
    Holiday,
    Location,
    Patient,
    PatientGuardian,
    Practice,
    Provider,
    utcnow,
)
from services.audit import record_event
from services.pins import generate_pin, hash_secret
from services.practices import create_practice, find_practice

DEFAULT_PRACTICE = "Demo Pediatrics"
BATCH = 20_000
VISIT_TYPES = [
    ("Well Child", 0.35),
    ("Sick Visit", 0.30),
    ("Follow-up", 0.15),
    ("Vaccine", 0.10),
    ("Sports Physical", 0.05),
    ("Telehealth", 0.05),
]
LOCATIONS = ["Main Street Pediatrics", "Northside Clinic", "Westfield Office"]
# Portal statuses and their share of patients, so every badge shows up in the demo.
STATUS_MIX = [
    ("none", 0.35),
    ("active", 0.30),
    ("invited", 0.14),
    ("expired", 0.08),
    ("locked", 0.05),
    ("declined", 0.08),
]
AREA_CODES = ["617", "312", "415", "646"]
DECLINE_REASONS = ["Parent prefers paper", "No email address", "Will sign up later"]

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class DemoSummary:
    """What seed-demo created."""

    practice_id: int
    practice_name: str
    locations: int
    providers: int
    patients: int
    guardians: int
    appointments: int
    enrollments: int


def _choose(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    roll = rng.random()
    for value, share in weighted:
        roll -= share
        if roll < 0:
            return value
    return weighted[-1][0]


def _next_id(session: Session, table) -> int:
    return (session.execute(select(func.max(table.id))).scalar() or 0) + 1


def _bump_sequence(session: Session, table) -> None:
    # Explicit ids make bulk inserts fast; PostgreSQL's sequence must then catch up.
    if session.get_bind().dialect.name == "postgresql":
        name = table.__tablename__
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"
            )
        )


def _insert(session: Session, table, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(table), rows)


def _find_or_add(session: Session, table, *, practice_id: int, name: str) -> int:
    """The id of the practice's location (provider) called `name`, added if missing."""
    found = session.execute(
        select(table.id).where(table.practice_id == practice_id, table.name == name)
    ).scalar()
    if found is None:
        row = table(practice_id=practice_id, name=name)
        session.add(row)
        session.flush()
        found = row.id
    return found


def _demo_practice(session: Session, *, practice_name: str, timezone: str, actor: str):
    """The practice to fill (created if missing), with contact details for its letters."""
    existing = find_practice(session, name=practice_name)
    practice = existing or create_practice(
        session, name=practice_name, timezone=timezone, actor=actor
    )
    record = session.get(Practice, practice.id)
    if not record.phone:
        record.phone = "(555) 010-2000"
        record.email = "frontdesk@example.org"
        record.address = "100 Main Street, Springfield"
        session.add(record)
    return practice


def _add_holidays(session: Session, *, practice_id: int, today: dt.date) -> None:
    for month, day, label in [(1, 1, "New Year's Day"), (7, 4, "Independence Day"),
                              (12, 25, "Christmas Day")]:
        for year in (today.year - 1, today.year, today.year + 1):
            holiday_day = dt.date(year, month, day)
            exists = session.execute(
                select(Holiday.id).where(Holiday.practice_id == practice_id,
                                         Holiday.day == holiday_day)
            ).scalar()
            if exists is None:
                session.add(Holiday(practice_id=practice_id, day=holiday_day, name=label))
    session.flush()


@dataclass
class _Families:
    """Patients and guardians as they are drawn, flushed to the database in batches."""

    practice_id: int
    today: dt.date
    next_patient_id: int
    next_guardian_id: int
    patient_rows: list[dict] = field(default_factory=list)
    guardian_rows: list[dict] = field(default_factory=list)
    link_rows: list[dict] = field(default_factory=list)
    guardian_count: int = 0

    def add_guardian(self, first: str, last: str, number: int, phone: str) -> int:
        guardian_id = self.next_guardian_id
        self.guardian_rows.append({
            "id": guardian_id,
            "practice_id": self.practice_id,
            "first_name": first,
            "last_name": last,
            "relationship": "Mother" if number == 0 else "Father",
            "email": f"{first.lower()}.{last.lower()}{guardian_id}@example.com",
            "cell_phone": phone,
        })
        self.next_guardian_id += 1
        self.guardian_count += 1
        return guardian_id

    def add_patient(self, first: str, last: str, age_days: int, guardians: list[int]) -> None:
        patient_id = self.next_patient_id
        self.patient_rows.append({
            "id": patient_id,
            "practice_id": self.practice_id,
            "mrn": f"MRN{patient_id:07d}",
            "first_name": first,
            "last_name": last,
            "date_of_birth": self.today - dt.timedelta(days=age_days),
        })
        self.link_rows.extend({"patient_id": patient_id, "guardian_id": g} for g in guardians)
        self.next_patient_id += 1

    def flush(self, session: Session) -> None:
        _insert(session, Guardian, self.guardian_rows)
        _insert(session, Patient, self.patient_rows)
        _insert(session, PatientGuardian, self.link_rows)
        self.patient_rows, self.guardian_rows, self.link_rows = [], [], []


def _seed_families(session: Session, *, rng: random.Random, fake: Faker, practice_id: int,
                   patients: int, today: dt.date, progress: Progress) -> tuple[int, int]:
    """`patients` children in families of one or two guardians (15 % are siblings).

    Returns the first patient's id and the number of guardians added."""
    # Name pools: Faker per row would dominate the run time at a million rows.
    first_names = [fake.first_name() for _ in range(400)]
    last_names = [fake.last_name() for _ in range(600)]
    families = _Families(practice_id=practice_id, today=today,
                         next_patient_id=_next_id(session, Patient),
                         next_guardian_id=_next_id(session, Guardian))
    first_patient_id = families.next_patient_id
    family_guardians: list[int] = []
    family_last = ""
    for index in range(patients):
        sibling = index > 0 and rng.random() < 0.15
        if not sibling:
            family_last = rng.choice(last_names)
            family_guardians = []
            for number in range(1 if rng.random() < 0.6 else 2):
                first = rng.choice(first_names)
                phone = f"+1{rng.choice(AREA_CODES)}555{rng.randrange(1000, 2000):04d}"
                family_guardians.append(families.add_guardian(first, family_last, number, phone))
        age_days = rng.randrange(0, 18 * 365)
        families.add_patient(rng.choice(first_names), family_last, age_days, family_guardians)
        if len(families.patient_rows) >= BATCH:
            families.flush(session)
            progress(0.05 + 0.15 * index / patients, f"Patients {index + 1:,} of {patients:,}")
    families.flush(session)
    _bump_sequence(session, Guardian)
    _bump_sequence(session, Patient)
    return first_patient_id, families.guardian_count


def _visit_status(rng: random.Random, start: dt.datetime, now: dt.datetime) -> AppointmentStatus:
    if start < now:
        roll = rng.random()
        return (AppointmentStatus.cancelled if roll < 0.05
                else AppointmentStatus.no_show if roll < 0.09
                else AppointmentStatus.completed)
    return AppointmentStatus.cancelled if rng.random() < 0.05 else AppointmentStatus.scheduled


def _seed_appointments(session: Session, *, rng: random.Random, practice_id: int, zone,
                       today: dt.date, now: dt.datetime, count: int, first_patient_id: int,
                       patients: int, provider_ids: list[int], location_ids: list[int],
                       progress: Progress) -> dict[int, dt.datetime]:
    """Visits on weekdays 8:00-17:00 and Saturday mornings, 60 days back to 30 ahead.

    Returns each patient's first completed visit."""
    days = [today + dt.timedelta(days=offset) for offset in range(-60, 31)]
    clinic_days = [d for d in days if d.weekday() < 6]
    appointment_id = _next_id(session, Appointment)
    first_visit: dict[int, dt.datetime] = {}
    rows = []
    visit_names = [name for name, _ in VISIT_TYPES]
    visit_weights = [share for _, share in VISIT_TYPES]
    for index in range(count):
        day = rng.choice(clinic_days)
        closing = 12 if day.weekday() == 5 else 17
        slot = rng.randrange(0, (closing - 8) * 4)
        local = dt.datetime.combine(day, dt.time(8 + slot // 4, (slot % 4) * 15), tzinfo=zone)
        start = local.astimezone(dt.UTC)
        # Patients come back: a visit's patient is drawn so that most have several.
        pid = first_patient_id + rng.randrange(patients)
        status = _visit_status(rng, start, now)
        if status == AppointmentStatus.completed and (
            pid not in first_visit or start < first_visit[pid]
        ):
            first_visit[pid] = start
        rows.append({
            "id": appointment_id,
            "practice_id": practice_id,
            "patient_id": pid,
            "provider_id": rng.choice(provider_ids),
            "location_id": rng.choice(location_ids),
            "start_at": start,
            "visit_type": rng.choices(visit_names, visit_weights)[0],
            "status": status.value,
            "source_id": f"DEMO-{appointment_id}",
        })
        appointment_id += 1
        if len(rows) >= BATCH:
            _insert(session, Appointment, rows)
            rows = []
            progress(0.2 + 0.65 * (index + 1) / count, f"Appointments {index + 1:,} of {count:,}")
    _insert(session, Appointment, rows)
    _bump_sequence(session, Appointment)
    return first_visit


def _enrollment_row(rng: random.Random, *, state: str, issued: dt.datetime, now: dt.datetime,
                    pin_lifetime_days: int) -> dict:
    """The columns that the portal status `state` decides (status, times, hash, attempts)."""
    lifetime = dt.timedelta(days=pin_lifetime_days)
    row: dict = {"status": EnrollmentStatus.invited.value, "issued_at": issued,
                 "expires_at": issued + lifetime, "attempts": 0}
    if state == "active":
        row["status"] = EnrollmentStatus.active.value
        row["activated_at"] = min(issued + dt.timedelta(days=rng.choice([0, 1, 1, 2, 3, 6, 10]),
                                                         hours=rng.randrange(1, 12)), now)
        row["secret_hash"] = None  # a used PIN is worth nothing; keep no hash of it
    elif state == "invited":
        issued = now - dt.timedelta(days=rng.randrange(0, pin_lifetime_days),
                                    hours=rng.randrange(1, 20))
        row["issued_at"], row["expires_at"] = issued, issued + lifetime
    elif state == "expired":
        issued = now - lifetime - dt.timedelta(days=rng.randrange(1, 40))
        row["issued_at"], row["expires_at"] = issued, issued + lifetime
    elif state == "locked":
        row["status"] = EnrollmentStatus.locked.value
        row["attempts"] = 5
    elif state == "declined":
        row["status"] = EnrollmentStatus.declined.value
        row["secret_hash"] = None
        row["declined_reason"] = rng.choice(DECLINE_REASONS)
    return row


def _seed_enrollments(session: Session, *, rng: random.Random, practice: Practice,
                      now: dt.datetime, first_patient_id: int, patients: int,
                      first_visit: dict[int, dt.datetime]) -> int:
    """One enrollment for most patients, in the STATUS_MIX shares; returns how many."""
    # Demo invitations carry hashes of random PINs that are thrown away (nobody can activate
    # them); a small pool keeps a million-row seed fast.
    hash_pool = [hash_secret(generate_pin()) for _ in range(16)]
    enrollment_rows = []
    enrollment_count = 0
    enrollment_id = _next_id(session, Enrollment)
    for offset in range(patients):
        pid = first_patient_id + offset
        state = _choose(rng, STATUS_MIX)
        if state == "none":
            continue
        seen = first_visit.get(pid) or (now - dt.timedelta(days=rng.randrange(1, 60)))
        lag = dt.timedelta(days=rng.choice([0, 0, 0, 1, 2, 3, 5, 8]), hours=rng.randrange(1, 8))
        issued = min(seen + lag, now - dt.timedelta(hours=1))
        row = {
            "id": enrollment_id,
            "practice_id": practice.id,
            "patient_id": pid,
            "guardian_id": None,
            "method": EnrollmentMethod.pin.value,
            "secret_hash": hash_pool[offset % len(hash_pool)],
            "verification_question": None,
            "link_token": secrets.token_urlsafe(18),
            "email": None,
            "cell_phone": None,
            "cell_carrier": None,
            "send_text": False,
            "send_pin": True,
            "issued_by_id": None,
            "activated_at": None,
            "voided_at": None,
            "declined_reason": None,
        }
        row.update(_enrollment_row(rng, state=state, issued=issued, now=now,
                                   pin_lifetime_days=practice.pin_lifetime_days))
        enrollment_rows.append(row)
        enrollment_id += 1
        enrollment_count += 1
        if len(enrollment_rows) >= BATCH:
            _insert(session, Enrollment, enrollment_rows)
            enrollment_rows = []
    _insert(session, Enrollment, enrollment_rows)
    _bump_sequence(session, Enrollment)
    return enrollment_count


def seed_demo(
    session: Session,
    *,
    practice_name: str = DEFAULT_PRACTICE,
    patients: int | None = None,
    appointments: int = 6_000,
    seed: int = 7,
    timezone: str = "America/New_York",
    today: dt.date | None = None,
    progress: Progress | None = None,
    actor: str = "cli",
) -> DemoSummary:
    """Fill a practice (created if missing) with synthetic patients, guardians, visits and
    enrollments: appointments from 60 days back to 30 days ahead, in clinic hours."""
    progress = progress or (lambda _fraction, _message: None)
    rng = random.Random(seed)
    fake = Faker("en_US")
    fake.seed_instance(seed)
    if appointments < 1:
        raise ValueError("appointments must be at least 1")
    patients = patients or max(50, appointments // 5)
    if patients < 1:
        raise ValueError("patients must be at least 1")

    practice = _demo_practice(session, practice_name=practice_name, timezone=timezone,
                              actor=actor)
    zone = zoneinfo.ZoneInfo(practice.timezone)
    today = today or dt.datetime.now(zone).date()
    progress(0.02, f"Practice {practice.name}")

    location_ids = [_find_or_add(session, Location, practice_id=practice.id, name=name)
                    for name in LOCATIONS]
    provider_ids = [
        _find_or_add(session, Provider, practice_id=practice.id,
                     name=f"Dr. {fake.first_name()} {fake.last_name()}")
        for _ in range(6)
    ]
    _add_holidays(session, practice_id=practice.id, today=today)

    first_patient_id, guardian_count = _seed_families(
        session, rng=rng, fake=fake, practice_id=practice.id, patients=patients, today=today,
        progress=progress)
    progress(0.2, f"{patients:,} patients, {guardian_count:,} guardians")

    now = utcnow()
    first_visit = _seed_appointments(
        session, rng=rng, practice_id=practice.id, zone=zone, today=today, now=now,
        count=appointments, first_patient_id=first_patient_id, patients=patients,
        provider_ids=provider_ids, location_ids=location_ids, progress=progress)
    enrollment_count = _seed_enrollments(
        session, rng=rng, practice=practice, now=now, first_patient_id=first_patient_id,
        patients=patients, first_visit=first_visit)
    record_event(session, actor=actor, action="demo_loaded", practice_id=practice.id,
                 patients=patients, appointments=appointments, seed=seed)
    progress(1.0, "Done")
    return DemoSummary(
        practice_id=practice.id,
        practice_name=practice.name,
        locations=len(location_ids),
        providers=len(provider_ids),
        patients=patients,
        guardians=guardian_count,
        appointments=appointments,
        enrollments=enrollment_count,
    )
