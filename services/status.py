"""A patient's portal status, derived from their live enrollment and never stored.

A patient may have two live enrollments: a parent's and, from the Confidential age, their own
(Enrollment.recipient). The Dashboard badge reads the one the patient row copies (triggers of
migrations 0003 and 0007): an active one first, else the newest. So a patient whose parent
access ended but who activated their own account shows Active; Register Patient shows the
parent's invitation and the patient's own side by side."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from sqlalchemy import and_, case, literal
from sqlalchemy.sql.elements import ColumnElement

from models import Enrollment, EnrollmentStatus, Patient


class PortalStatus(StrEnum):
    not_registered = "Not registered"
    invited = "Invited"
    pin_expired = "PIN expired"
    locked = "Locked"
    active = "Active"
    declined = "Declined"


# One palette for the Dashboard's badges and the Enrollment charts. Badges write white on
# these, so each is dark enough for WCAG's 4.5:1 (tests/services/test_status.py).
STATUS_COLORS: dict[str, str] = {
    PortalStatus.not_registered: "#757575",
    PortalStatus.invited: "#1f77b4",
    PortalStatus.pin_expired: "#b35c00",
    PortalStatus.locked: "#d32f2f",
    PortalStatus.active: "#2e7d32",
    PortalStatus.declined: "#7b1fa2",
}

# The same palette by the names Streamlit's badges take (`:orange-badge[...]` on Register).
# Each hex above is the hue of one of these names, so a status looks the same on every page.
BADGE_NAMES: dict[str, str] = {
    PortalStatus.not_registered: "gray",
    PortalStatus.invited: "blue",
    PortalStatus.pin_expired: "orange",
    PortalStatus.locked: "red",
    PortalStatus.active: "green",
    PortalStatus.declined: "violet",
}

STATUS_MEANINGS: dict[str, str] = {
    PortalStatus.not_registered: "No portal invitation yet: register the parent.",
    PortalStatus.invited: "A PIN was issued and has not been used yet.",
    PortalStatus.pin_expired: "The PIN expired unused: issue a new PIN.",
    PortalStatus.locked: "Too many wrong tries: issue a new PIN.",
    PortalStatus.active: "A parent, or the patient themself, activated a portal account.",
    PortalStatus.declined: "The family declined portal access (reason on file).",
}


def derive_status(
    status: str | None, expires_at: dt.datetime | None, *, now: dt.datetime
) -> PortalStatus:
    """The badge for a live enrollment's stored status (None: no live enrollment)."""
    if status is None or status == EnrollmentStatus.voided:
        return PortalStatus.not_registered
    if status == EnrollmentStatus.invited:
        # Expiry is exclusive: at the stroke of expires_at the PIN no longer works.
        if expires_at is not None and expires_at <= now:
            return PortalStatus.pin_expired
        return PortalStatus.invited
    return {
        EnrollmentStatus.locked: PortalStatus.locked,
        EnrollmentStatus.active: PortalStatus.active,
        EnrollmentStatus.declined: PortalStatus.declined,
    }[EnrollmentStatus(status)]


def status_sql(now: dt.datetime) -> ColumnElement[str]:
    """The same derivation as a SQL CASE over an outer-joined live Enrollment."""
    return case(
        (Enrollment.id.is_(None), literal(PortalStatus.not_registered.value)),
        (
            and_(Enrollment.status == EnrollmentStatus.invited, Enrollment.expires_at <= now),
            literal(PortalStatus.pin_expired.value),
        ),
        (Enrollment.status == EnrollmentStatus.invited, literal(PortalStatus.invited.value)),
        (Enrollment.status == EnrollmentStatus.locked, literal(PortalStatus.locked.value)),
        (Enrollment.status == EnrollmentStatus.active, literal(PortalStatus.active.value)),
        (Enrollment.status == EnrollmentStatus.declined, literal(PortalStatus.declined.value)),
        else_=literal(PortalStatus.not_registered.value),
    )


def patient_status_sql(now: dt.datetime) -> ColumnElement[str]:
    """The same derivation over the patient's copy of its live enrollment (one join fewer:
    the columns are kept by triggers in the same transaction as every enrollment change)."""
    status = Patient.live_enrollment_status
    return case(
        (status.is_(None), literal(PortalStatus.not_registered.value)),
        (
            and_(status == EnrollmentStatus.invited, Patient.live_enrollment_expires_at <= now),
            literal(PortalStatus.pin_expired.value),
        ),
        (status == EnrollmentStatus.invited, literal(PortalStatus.invited.value)),
        (status == EnrollmentStatus.locked, literal(PortalStatus.locked.value)),
        (status == EnrollmentStatus.active, literal(PortalStatus.active.value)),
        (status == EnrollmentStatus.declined, literal(PortalStatus.declined.value)),
        else_=literal(PortalStatus.not_registered.value),
    )
