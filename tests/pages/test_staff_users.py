"""Staff Users page: renders for an admin, adds a user, disables one, shows errors by field."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import AuditEvent, Role, StaffPractice, StaffUser
from services.db import session_scope
from tests.factories import make_practice, make_user
from tests.pages.admin_support import widget
from tests.pages.helpers import signed_in, texts

PAGE = "pages/staff_users.py"


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds")
    boss = make_user(session, role=Role.admin, practices=[practice], username="boss",
                     name="Bea Boss")
    desk = make_user(session, role=Role.staff, practices=[practice], username="desk",
                     name="Dee Desk")
    session.commit()
    return practice, boss, desk


def _open(practice):
    return signed_in("boss", practice_id=practice.id, page=PAGE)


def test_the_page_lists_the_practices_users(clinic):
    practice, _, _ = clinic
    at = _open(practice)
    assert not at.exception
    table = at.dataframe[0].value
    assert set(table["Username"]) == {"boss", "desk"}
    assert set(table["Role"]) == {"Administrator", "Staff"}


def test_an_admin_adds_a_staff_user(clinic):
    practice, _, _ = clinic
    at = _open(practice)
    widget(at, "text_input", "Username").input("nia.front")
    widget(at, "text_input", "Full name").input("Nia Front")
    widget(at, "text_input", "Email").input("nia@example.org")
    widget(at, "text_input", "Password").input("a-long-password")
    widget(at, "button", "Add user").click().run()
    assert not at.exception
    assert "Added nia.front." in texts(at)
    with session_scope(read_only=True) as session:
        user = session.exec(select(StaffUser).where(StaffUser.username == "nia.front")).one()
        assert user.role == Role.staff
        assert session.get(StaffPractice, (user.id, practice.id)) is not None
        assert session.exec(select(AuditEvent).where(
            AuditEvent.action == "user_practice_added")).first().actor == "boss"
    assert "nia.front" in set(at.dataframe[0].value["Username"])


def test_a_weak_password_is_refused_with_the_fields_name(clinic):
    practice, _, _ = clinic
    at = _open(practice)
    widget(at, "text_input", "Username").input("weak")
    widget(at, "text_input", "Full name").input("Weak Pass")
    widget(at, "text_input", "Email").input("weak@example.org")
    widget(at, "text_input", "Password").input("short")
    widget(at, "button", "Add user").click().run()
    assert "Password is too short" in texts(at)
    with session_scope(read_only=True) as session:
        assert session.exec(select(StaffUser).where(StaffUser.username == "weak")).first() \
            is None


def test_an_admin_disables_another_user_but_not_themselves(clinic):
    practice, boss, desk = clinic
    at = _open(practice)
    widget(at, "selectbox", "Staff user").set_value(boss.id).run()
    assert widget(at, "button", "Disable user").disabled
    widget(at, "selectbox", "Staff user").set_value(desk.id).run()
    widget(at, "button", "Disable user").click().run()
    assert "Disabled desk." in texts(at)
    with session_scope(read_only=True) as session:
        assert session.get(StaffUser, desk.id).disabled
