"""Rows with random values for tests: each factory adds and flushes, returns the row."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid

from faker import Faker
from sqlmodel import Session

from models import (
    Appointment,
    Enrollment,
    EnrollmentMethod,
    Guardian,
    Location,
    Patient,
    PatientGuardian,
    Practice,
    Provider,
    Role,
    StaffPractice,
    StaffUser,
)
from services.auth import hash_password
from services.letters import PinLetter
from services.pins import generate_pin, hash_secret, normalize_answer, normalize_pin

fake = Faker()
PASSWORD = "correct-horse-battery"
_HASH = hash_password(PASSWORD)  # bcrypt is slow; one hash serves every test user


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_practice(session: Session, *, name: str | None = None,
                  timezone: str = "America/New_York", **fields) -> Practice:
    practice = Practice(name=name or _unique("Practice"), timezone=timezone, **fields)
    session.add(practice)
    session.flush()
    return practice


def make_user(session: Session, *, role: str = Role.staff, practices: list[Practice] = (),
              username: str | None = None, **fields) -> StaffUser:
    user = StaffUser(
        username=username or _unique("user"),
        name=fields.pop("name", fake.name()),
        email=fields.pop("email", fake.email()),
        password_hash=fields.pop("password_hash", _HASH),
        role=role,
        **fields,
    )
    session.add(user)
    session.flush()
    for practice in practices:
        session.add(StaffPractice(staff_user_id=user.id, practice_id=practice.id))
    session.flush()
    return user


def make_location(session: Session, practice: Practice, *, name: str | None = None) -> Location:
    location = Location(practice_id=practice.id, name=name or _unique("Clinic"))
    session.add(location)
    session.flush()
    return location


def make_provider(session: Session, practice: Practice, *, name: str | None = None) -> Provider:
    provider = Provider(practice_id=practice.id, name=name or _unique(f"Dr. {fake.last_name()}"))
    session.add(provider)
    session.flush()
    return provider


def make_patient(session: Session, practice: Practice, **fields) -> Patient:
    patient = Patient(
        practice_id=practice.id,
        mrn=fields.pop("mrn", _unique("MRN")),
        first_name=fields.pop("first_name", fake.first_name()),
        last_name=fields.pop("last_name", fake.last_name()),
        # At most 7 years old today by default: a test's injected today may lie years ahead
        # (2030), and a parent cannot be registered at the minor age limit, nor gets full
        # access past the Confidential age. Tests about ages pass date_of_birth.
        date_of_birth=fields.pop(
            "date_of_birth", fake.date_of_birth(minimum_age=0, maximum_age=7)
        ),
        **fields,
    )
    session.add(patient)
    session.flush()
    return patient


def make_guardian(session: Session, practice: Practice, *, patients: list[Patient] = (),
                  **fields) -> Guardian:
    guardian = Guardian(
        practice_id=practice.id,
        first_name=fields.pop("first_name", fake.first_name()),
        last_name=fields.pop("last_name", fake.last_name()),
        email=fields.pop("email", fake.email()),
        cell_phone=fields.pop("cell_phone", "+16175550123"),
        **fields,
    )
    session.add(guardian)
    session.flush()
    for patient in patients:
        session.add(PatientGuardian(patient_id=patient.id, guardian_id=guardian.id))
    session.flush()
    return guardian


def make_appointment(session: Session, practice: Practice, *, patient: Patient | None = None,
                     provider: Provider | None = None, location: Location | None = None,
                     start_at: dt.datetime | None = None, **fields) -> Appointment:
    appointment = Appointment(
        practice_id=practice.id,
        patient_id=(patient or make_patient(session, practice)).id,
        provider_id=(provider or make_provider(session, practice)).id,
        location_id=(location or make_location(session, practice)).id,
        start_at=start_at or dt.datetime.now(dt.UTC).replace(microsecond=0),
        source_id=fields.pop("source_id", _unique("SRC")),
        visit_type=fields.pop("visit_type", "Well Child"),
        **fields,
    )
    session.add(appointment)
    session.flush()
    return appointment


def make_enrollment(session: Session, practice: Practice, *, patient: Patient | None = None,
                    guardian: Guardian | None = None, pin: str | None = None,
                    answer: str | None = None, **fields) -> Enrollment:
    """An invited enrollment whose secret hashes `pin` (or `answer` for a question enrollment).

    Pass the PIN (e.g. from generate_pin()) to know it; the row keeps only its hash."""
    patient = patient or make_patient(session, practice)
    guardian = guardian or make_guardian(session, practice, patients=[patient])
    if answer is not None:
        fields.setdefault("method", EnrollmentMethod.question)
        fields.setdefault("verification_question", "What is the name of your first pet?")
        secret = normalize_answer(answer)
    else:
        secret = normalize_pin(pin or generate_pin())
    issued_at = fields.pop("issued_at", dt.datetime.now(dt.UTC).replace(microsecond=0))
    enrollment = Enrollment(
        practice_id=practice.id,
        patient_id=patient.id,
        guardian_id=guardian.id,
        secret_hash=fields.pop("secret_hash", hash_secret(secret)),
        link_token=fields.pop("link_token", secrets.token_urlsafe(32)),
        email=fields.pop("email", guardian.email),
        issued_at=issued_at,
        expires_at=fields.pop(
            "expires_at", issued_at + dt.timedelta(days=practice.pin_lifetime_days)
        ),
        **fields,
    )
    session.add(enrollment)
    session.flush()
    return enrollment


def make_visit(session: Session, practice: Practice, *, start_at: dt.datetime,
               guardian: Guardian | dict | None = None, location: Location | None = None,
               provider: Provider | None = None, status: str | None = None,
               **patient: object) -> tuple[Patient, Appointment]:
    """A patient (`patient` as make_patient takes it) with a visit at `start_at`. `guardian`:
    the fields of a new guardian ({} for the factory's), a guardian on file to share, or None
    for none; a location and provider are made when not given."""
    child = make_patient(session, practice, **patient)
    if isinstance(guardian, Guardian):
        session.add(PatientGuardian(patient_id=child.id, guardian_id=guardian.id))
    elif guardian is not None:
        make_guardian(session, practice, patients=[child], **guardian)
    extra = {"status": status} if status else {}
    visit = make_appointment(session, practice, patient=child, start_at=start_at,
                             location=location or make_location(session, practice),
                             provider=provider or make_provider(session, practice), **extra)
    return child, visit


LETTER_URL = "https://portal.sunny.example/activate?practice=12&token=Qm3x-_Zr8LpA2vN0cT7yWkEe"


def make_pin_letter(**changes) -> PinLetter:
    """A PIN letter of Sunny Peds for Ava Smith (no database row: letters are rendered only)."""
    values = dict(
        practice_name="Sunny Peds", practice_phone="(555) 010-2000",
        practice_email="desk@sunny.example", practice_address="1 Main Street, Springfield",
        patient_name="Ava Smith", date_of_birth_hint=True, activation_url=LETTER_URL,
        expires_on=dt.date(2025, 6, 16), issued_on=dt.date(2025, 6, 2), pin="7KQ4M-9TXR2",
    )
    values.update(changes)
    return PinLetter(**values)
