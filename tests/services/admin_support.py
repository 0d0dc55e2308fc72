"""Shared by the Staff Users and Practice Settings service tests: a practice with admins."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import AuditEvent, Role, StaffPractice
from tests.factories import make_practice, make_user

NEW_PASSWORD = "a-brand-new-secret"


@pytest.fixture(name="clinic")
def clinic_fixture(session):
    """A practice with an admin, a second admin, a front-desk user; and a foreign practice."""
    practice = make_practice(session, name="Sunny Peds")
    other = make_practice(session, name="Other Peds")
    boss = make_user(session, role=Role.admin, practices=[practice], username="boss")
    deputy = make_user(session, role=Role.admin, practices=[practice], username="deputy")
    desk = make_user(session, role=Role.staff, practices=[practice], username="desk")
    stranger = make_user(session, role=Role.staff, practices=[other], username="stranger")
    return practice, other, boss, deputy, desk, stranger


def events(session, action: str) -> list[AuditEvent]:
    """The audit events of one action, oldest first."""
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def memberships(session, user_id: int) -> set[int]:
    """The ids of the practices a staff user works in."""
    return set(session.exec(
        select(StaffPractice.practice_id).where(StaffPractice.staff_user_id == user_id)
    ).all())
