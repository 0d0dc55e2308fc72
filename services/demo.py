"""A realistic synthetic practice for demos and benchmarks (deterministic for a seed)."""

from __future__ import annotations

import bisect
import datetime as dt
import random
import secrets
import zoneinfo
from dataclasses import dataclass

from faker import Faker
from sqlalchemy import func, select, update
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
    PatientGuardian,
    Practice,
    Provider,
    utcnow,
)
from services.audit import record_event
from services.demo_families import (
    BATCH,
    Families,
    Progress,
    bump_sequence,
    insert_rows,
    next_id,
    seed_families,
)
from services.pins import generate_pin, hash_secret
from services.practices import create_practice, find_practice

DEFAULT_PRACTICE = "Demo Pediatrics"
VISIT_TYPES = [
    ("Well Child", 0.35),
    ("Sick Visit", 0.30),
    ("Follow-up", 0.15),
    ("Vaccine", 0.10),
    ("Sports Physical", 0.05),
    ("Telehealth", 0.05),
]
LOCATIONS = ["Main Street Pediatrics", "Northside Clinic", "Westfield Office"]
# Portal statuses and their share of patients, so every badge shows up in the demo in the
# share a practice a year into its portal sees (locks and refusals are rare).
STATUS_MIX = [
    ("none", 0.38),
    ("active", 0.36),
    ("invited", 0.12),
    ("expired", 0.06),
    ("locked", 0.02),
    ("declined", 0.06),
]
DECLINE_REASONS = ["Parent prefers paper", "No email address", "Will sign up later"]



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


def _demo_practice(session: Session, *, practice_name: str, timezone: str, actor: str,
                   portal_url: str | None = None):
    """The practice to fill (created if missing), with contact details for its letters."""
    existing = find_practice(session, name=practice_name)
    practice = existing or create_practice(
        session, name=practice_name, timezone=timezone, actor=actor, portal_url=portal_url
    )
    record = session.get(Practice, practice.id)
    if not record.phone:
        record.phone = "(617) 555-0100"  # 555-0100 to 555-0199: fictional, and valid numbers
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


def _visit_status(rng: random.Random, start: dt.datetime, now: dt.datetime) -> AppointmentStatus:
    if start < now:
        roll = rng.random()
        return (AppointmentStatus.cancelled if roll < 0.05
                else AppointmentStatus.no_show if roll < 0.09
                else AppointmentStatus.completed)
    return AppointmentStatus.cancelled if rng.random() < 0.05 else AppointmentStatus.scheduled


def _seed_appointments(session: Session, *, rng: random.Random, practice_id: int, zone,
                       now: dt.datetime, count: int, families: Families,
                       provider_ids: list[int], location_ids: list[int],
                       progress: Progress) -> dict[int, dt.datetime]:
    """Visits on weekdays 8:00-17:00 and Saturday mornings, 60 days back to 30 ahead, none
    before the patient's third day of life.

    Returns each patient's first completed visit."""
    today, patients = families.today, len(families.birth_days)
    days = [today + dt.timedelta(days=offset) for offset in range(-60, 31)]
    clinic_days = [d for d in days if d.weekday() < 6]
    appointment_id = next_id(session, Appointment)
    first_visit: dict[int, dt.datetime] = {}
    rows = []
    visit_names = [name for name, _ in VISIT_TYPES]
    visit_weights = [share for _, share in VISIT_TYPES]
    for index in range(count):
        # Patients come back: a visit's patient is drawn so that most have several.
        offset = rng.randrange(patients)
        pid = families.first_patient_id + offset
        day = rng.choice(clinic_days)
        first_day = families.born(offset) + dt.timedelta(days=2)
        if day < first_day:
            day = rng.choice(clinic_days[bisect.bisect_left(clinic_days, first_day):]
                             or clinic_days[-1:])
        closing = 12 if day.weekday() == 5 else 17
        slot = rng.randrange(0, (closing - 8) * 4)
        local = dt.datetime.combine(day, dt.time(8 + slot // 4, (slot % 4) * 15), tzinfo=zone)
        start = local.astimezone(dt.UTC)
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
            insert_rows(session, Appointment, rows)
            rows = []
            progress(0.2 + 0.65 * (index + 1) / count, f"Appointments {index + 1:,} of {count:,}")
    insert_rows(session, Appointment, rows)
    bump_sequence(session, Appointment)
    return first_visit


def _enrollment_row(rng: random.Random, *, state: str, issued: dt.datetime, now: dt.datetime,
                    pin_lifetime_days: int) -> dict:
    """The columns that the portal status `state` decides (status, times, hash, attempts)."""
    lifetime = dt.timedelta(days=pin_lifetime_days)
    row: dict = {"status": EnrollmentStatus.invited.value, "issued_at": issued,
                 "expires_at": issued + lifetime, "attempts": 0}
    if state == "active":
        row["status"] = EnrollmentStatus.active.value
        # Most parents activate within a day or two, fewer each day after: a smooth tail.
        activated = issued + dt.timedelta(hours=max(0.25, rng.expovariate(1 / 60)))
        if activated > now:
            activated = issued + (now - issued) * rng.random()
        row["activated_at"] = activated
        row["secret_hash"] = None  # a used PIN is worth nothing; keep no hash of it
    elif state == "locked":
        row["status"] = EnrollmentStatus.locked.value
        row["attempts"] = 5
    elif state == "declined":
        row["status"] = EnrollmentStatus.declined.value
        row["secret_hash"] = None
        row["declined_reason"] = rng.choice(DECLINE_REASONS)
    return row


def _issued_at(rng: random.Random, *, state: str, seen: dt.datetime, earliest: dt.datetime,
               now: dt.datetime, lifetime: dt.timedelta) -> dt.datetime:
    """When the PIN went out: after the visit (mostly the same day), never before birth."""
    if state == "invited":
        issued = now - lifetime * rng.random()
    elif state == "expired":
        issued = now - lifetime - dt.timedelta(days=rng.uniform(1, 40))
    else:
        issued = seen + dt.timedelta(hours=rng.expovariate(1 / 18))
    return max(earliest, min(issued, now - dt.timedelta(hours=1)))


def _seed_enrollments(session: Session, *, rng: random.Random, practice: Practice,
                      now: dt.datetime, families: Families,
                      first_visit: dict[int, dt.datetime]) -> int:
    """One enrollment for most patients, in the STATUS_MIX shares, addressed to the first
    guardian; returns how many."""
    # Demo invitations carry hashes of random PINs that are thrown away (nobody can activate
    # them); a small pool keeps a million-row seed fast.
    hash_pool = [hash_secret(generate_pin()) for _ in range(16)]
    enrollment_rows = []
    enrollment_count = 0
    enrollment_id = first_enrollment_id = next_id(session, Enrollment)
    lifetime = dt.timedelta(days=practice.pin_lifetime_days)
    for offset in range(len(families.birth_days)):
        pid = families.first_patient_id + offset
        state = _choose(rng, STATUS_MIX)
        earliest = dt.datetime.combine(families.born(offset) + dt.timedelta(days=2), dt.time(),
                                       tzinfo=dt.UTC)
        if state == "expired" and earliest + lifetime >= now:
            state = "invited"  # too young for a PIN to have run out
        if state == "none" or earliest >= now - dt.timedelta(hours=1):
            continue
        seen = first_visit.get(pid) or (now - dt.timedelta(days=rng.uniform(1, 60)))
        issued = _issued_at(rng, state=state, seen=seen, earliest=earliest, now=now,
                            lifetime=lifetime)
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
            insert_rows(session, Enrollment, enrollment_rows)
            enrollment_rows = []
    insert_rows(session, Enrollment, enrollment_rows)
    bump_sequence(session, Enrollment)
    _address_to_first_guardian(session, practice_id=practice.id,
                               first_enrollment_id=first_enrollment_id)
    return enrollment_count


def _address_to_first_guardian(session: Session, *, practice_id: int,
                               first_enrollment_id: int) -> None:
    """Each new demo enrollment names its patient's first guardian and that email."""
    new = (Enrollment.practice_id == practice_id, Enrollment.id >= first_enrollment_id)
    first_guardian = (select(func.min(PatientGuardian.guardian_id))
                      .where(PatientGuardian.patient_id == Enrollment.patient_id)
                      .scalar_subquery())
    session.execute(update(Enrollment).where(*new).values(guardian_id=first_guardian))
    guardian_email = (select(Guardian.email).where(Guardian.id == Enrollment.guardian_id)
                      .scalar_subquery())
    session.execute(update(Enrollment).where(*new).values(email=guardian_email))


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
    portal_url: str | None = None,
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
                              actor=actor, portal_url=portal_url)
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

    families = seed_families(
        session, rng=rng, fake=fake, practice_id=practice.id, patients=patients, today=today,
        progress=progress)
    progress(0.2, f"{patients:,} patients, {families.guardian_count:,} guardians")

    now = utcnow()
    first_visit = _seed_appointments(
        session, rng=rng, practice_id=practice.id, zone=zone, now=now,
        count=appointments, families=families, provider_ids=provider_ids,
        location_ids=location_ids, progress=progress)
    enrollment_count = _seed_enrollments(
        session, rng=rng, practice=practice, now=now, families=families,
        first_visit=first_visit)
    record_event(session, actor=actor, action="demo_loaded", practice_id=practice.id,
                 patients=patients, appointments=appointments, seed=seed)
    progress(1.0, "Done")
    return DemoSummary(
        practice_id=practice.id,
        practice_name=practice.name,
        locations=len(location_ids),
        providers=len(provider_ids),
        patients=patients,
        guardians=families.guardian_count,
        appointments=appointments,
        enrollments=enrollment_count,
    )
