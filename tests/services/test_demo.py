"""The demo practice: valid contact details, families and enrollments a new user believes."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from faker.providers.person.en_US import Provider as Names
from sqlalchemy import func
from sqlmodel import select

from models import Appointment, Enrollment, Guardian, Patient, PatientGuardian, Practice, Role
from services.demo import seed_demo
from services.practice_settings import update_practice
from services.status import PortalStatus, derive_status
from tests.factories import make_user

FEMALE_ONLY = set(Names.first_names_female) - set(Names.first_names_male)
MALE_ONLY = set(Names.first_names_male) - set(Names.first_names_female)
TODAY = dt.date(2026, 3, 16)


@pytest.fixture
def demo(session):
    summary = seed_demo(session, patients=1_500, appointments=6_000, seed=11, today=TODAY)
    session.commit()
    return session.get(Practice, summary.practice_id)


def test_practice_settings_saves_the_demo_practice_unchanged(session, demo):
    admin = make_user(session, role=Role.admin, practices=[demo])
    saved = update_practice(
        session, actor_id=admin.id, practice_id=demo.id, name=demo.name,
        timezone=demo.timezone, portal_url=demo.portal_url,
        pin_lifetime_days=demo.pin_lifetime_days, minor_age_limit=demo.minor_age_limit,
        phone=demo.phone, email=demo.email, address=demo.address,
    )
    assert saved.phone == demo.phone


def test_every_demo_guardian_number_is_a_valid_fictional_number(session, demo):
    from services.validation import normalize_phone

    phones = session.exec(select(Guardian.cell_phone).where(Guardian.practice_id == demo.id)).all()
    assert phones and all(normalize_phone(phone) == phone for phone in phones)
    assert all(phone[5:9] == "5550" and phone[9] == "1" for phone in phones)  # 555-01xx


def test_mothers_have_female_names_and_fathers_male_names(session, demo):
    rows = session.exec(
        select(Guardian.relationship, Guardian.first_name).where(Guardian.practice_id == demo.id)
    ).all()
    women = {first for relation, first in rows if relation in {"Mother", "Grandmother"}}
    men = {first for relation, first in rows if relation in {"Father", "Grandfather"}}
    assert women and men
    assert not women & MALE_ONLY
    assert not men & FEMALE_ONLY


def test_no_appointment_or_invitation_before_the_patient_was_born(session, demo):
    early_visits = session.exec(
        select(func.count()).select_from(Appointment).join(Patient)
        .where(Appointment.practice_id == demo.id,
               func.date(Appointment.start_at) < Patient.date_of_birth)
    ).one()
    early_invitations = session.exec(
        select(func.count()).select_from(Enrollment).join(Patient)
        .where(Enrollment.practice_id == demo.id,
               func.date(Enrollment.issued_at) < Patient.date_of_birth)
    ).one()
    newborns = session.exec(
        select(func.count()).select_from(Patient).where(
            Patient.practice_id == demo.id,
            Patient.date_of_birth > TODAY - dt.timedelta(days=60))
    ).one()
    assert newborns > 0  # the rule is exercised: some children were born inside the window
    assert early_visits == 0 and early_invitations == 0


def test_days_to_activation_spread_over_every_day_of_the_first_week(session, demo):
    rows = session.exec(
        select(Enrollment.issued_at, Enrollment.activated_at)
        .where(Enrollment.practice_id == demo.id, Enrollment.activated_at.is_not(None))
    ).all()
    days = Counter((activated - issued).days for issued, activated in rows)
    assert all(days[day] > 0 for day in range(8)), sorted(days.items())
    # Fewer parents wait longer: the counts fall (allowing for noise), never jump back up.
    assert all(days[day + 1] <= days[day] * 1.5 + 3 for day in range(10)), sorted(days.items())


def test_siblings_share_guardians_sometimes_and_enrollments_name_one(session, demo):
    children_per_guardian = Counter(session.exec(
        select(PatientGuardian.guardian_id).join(Patient)
        .where(Patient.practice_id == demo.id)
    ).all())
    shared = sum(1 for count in children_per_guardian.values() if count > 1)
    assert 0.05 < shared / len(children_per_guardian) < 0.4
    unnamed = session.exec(
        select(func.count()).select_from(Enrollment)
        .where(Enrollment.practice_id == demo.id,
               (Enrollment.guardian_id.is_(None)) | (Enrollment.email.is_(None)))
    ).one()
    assert unnamed == 0


# What a small pediatric practice sees a year into using a portal, per patient.
PLAUSIBLE_SHARES = {
    PortalStatus.not_registered: (0.25, 0.50),
    PortalStatus.active: (0.25, 0.45),
    PortalStatus.invited: (0.05, 0.20),
    PortalStatus.pin_expired: (0.02, 0.10),
    PortalStatus.locked: (0.005, 0.03),
    PortalStatus.declined: (0.01, 0.08),
}


def test_each_portal_status_appears_in_a_plausible_share(session, demo):
    now = dt.datetime.now(dt.UTC)
    patients = session.exec(
        select(func.count()).select_from(Patient).where(Patient.practice_id == demo.id)
    ).one()
    shares = Counter(
        derive_status(status, expires_at, now=now)
        for status, expires_at in session.exec(
            select(Enrollment.status, Enrollment.expires_at)
            .where(Enrollment.practice_id == demo.id)
        ).all()
    )
    shares[PortalStatus.not_registered] += patients - sum(shares.values())
    for status, (low, high) in PLAUSIBLE_SHARES.items():
        share = shares[status] / patients
        assert low <= share <= high, (status, round(share, 3))
