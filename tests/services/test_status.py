"""Portal status: each derivation, the expiry boundary, and the SQL twin agreeing with it."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models import Enrollment, EnrollmentStatus, Patient
from services.status import (
    BADGE_NAMES,
    STATUS_COLORS,
    STATUS_MEANINGS,
    PortalStatus,
    derive_status,
    status_sql,
)
from tests.factories import make_enrollment, make_patient, make_practice

NOW = dt.datetime(2025, 3, 10, 15, 0, tzinfo=dt.UTC)
LATER = NOW + dt.timedelta(days=3)
EARLIER = NOW - dt.timedelta(seconds=1)


@pytest.mark.parametrize(("stored", "expires_at", "badge"), [
    (None, None, PortalStatus.not_registered),
    (EnrollmentStatus.voided, LATER, PortalStatus.not_registered),
    (EnrollmentStatus.invited, LATER, PortalStatus.invited),
    (EnrollmentStatus.invited, None, PortalStatus.invited),
    (EnrollmentStatus.invited, EARLIER, PortalStatus.pin_expired),
    (EnrollmentStatus.locked, LATER, PortalStatus.locked),
    (EnrollmentStatus.active, EARLIER, PortalStatus.active),  # a used PIN never "expires"
    (EnrollmentStatus.declined, None, PortalStatus.declined),
])
def test_each_stored_status_derives_its_badge(stored, expires_at, badge):
    assert derive_status(stored, expires_at, now=NOW) == badge


def test_plain_strings_derive_like_the_enum():
    assert derive_status("invited", LATER, now=NOW) == PortalStatus.invited
    assert derive_status("locked", None, now=NOW) == PortalStatus.locked


def test_expiry_is_exclusive_at_the_stroke_of_expires_at():
    just_before = NOW - dt.timedelta(microseconds=1)
    assert derive_status("invited", NOW + dt.timedelta(microseconds=1), now=NOW) == "Invited"
    assert derive_status("invited", NOW, now=NOW) == PortalStatus.pin_expired
    assert derive_status("invited", NOW, now=just_before) == PortalStatus.invited


def test_every_badge_has_a_colour_and_a_meaning_in_words():
    for badge in PortalStatus:
        assert STATUS_COLORS[badge].startswith("#")
        assert STATUS_MEANINGS[badge].endswith(".")
    assert len(set(STATUS_COLORS.values())) == len(PortalStatus)
    # Register's badges take Streamlit's colour names: one per status there too.
    assert set(BADGE_NAMES) == set(PortalStatus)
    assert len(set(BADGE_NAMES.values())) == len(PortalStatus)


def _luminance(colour: str) -> float:
    """WCAG 2's relative luminance of a #rrggbb colour."""
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("badge", list(PortalStatus))
def test_white_badge_text_on_every_status_colour_passes_wcag_aa(badge):
    ratio = 1.05 / (_luminance(STATUS_COLORS[badge]) + 0.05)  # white's luminance is 1
    assert ratio >= 4.5, f"{badge}: {ratio:.2f}:1"


@pytest.mark.parametrize(("stored", "expires_at"), [
    ("invited", LATER), ("invited", NOW), ("invited", EARLIER), ("locked", LATER),
    ("active", EARLIER), ("declined", LATER),
])
def test_status_sql_agrees_with_derive_status(session, stored, expires_at):
    practice = make_practice(session)
    patient = make_patient(session, practice)
    enrollment = make_enrollment(session, practice, patient=patient, status=stored,
                                 expires_at=expires_at, secret_hash="not-a-real-hash")
    session.commit()
    in_sql = session.execute(
        select(status_sql(NOW)).select_from(Enrollment).where(Enrollment.id == enrollment.id)
    ).scalar_one()
    assert in_sql == derive_status(stored, expires_at, now=NOW)


def test_status_sql_reads_not_registered_without_a_live_enrollment(session):
    practice = make_practice(session)
    never = make_patient(session, practice)
    replaced = make_patient(session, practice)
    make_enrollment(session, practice, patient=replaced, status=EnrollmentStatus.voided,
                    secret_hash="not-a-real-hash")
    session.commit()
    rows = dict(session.execute(
        select(Patient.id, status_sql(NOW)).select_from(Patient)
        .outerjoin(Enrollment, Enrollment.patient_id == Patient.id)
        .where(Patient.id.in_([never.id, replaced.id]))
    ).all())
    assert rows == {never.id: PortalStatus.not_registered,
                    replaced.id: PortalStatus.not_registered}
