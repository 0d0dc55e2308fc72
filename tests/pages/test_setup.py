"""First-run setup page: the token, the first administrator, their practice."""

from __future__ import annotations

from sqlmodel import func, select

from models import Practice, StaffPractice, StaffUser
from services import setup
from services.db import session_scope
from tests.pages.helpers import app_test, texts


def _fill(at, **values):
    for widget in at.text_input:
        if widget.label in values:
            widget.input(values[widget.label])
    return at


def _form(at, token, practice_name="", demo=False):
    _fill(at, **{"Setup token": token, "Username": "olive", "Full name": "Olive Admin",
                 "Email": "olive@example.com", "Password": "a-long-password",
                 "Repeat password": "a-long-password", "Practice name": practice_name})
    at.checkbox[0].set_value(demo)
    at.button[0].click().run()
    return at


def _count(table) -> int:
    with session_scope(read_only=True) as session:
        return session.exec(select(func.count()).select_from(table)).one()


def test_wrong_token_is_refused_and_nothing_is_written(data_dir):
    at = app_test().run()
    _form(at, "not-the-token", practice_name="Sunny Peds")
    assert "Setup token is not right" in texts(at)
    assert _count(StaffUser) == 0 and _count(Practice) == 0


def test_without_demo_the_admin_gets_their_named_practice(data_dir):
    at = app_test().run()
    _form(at, setup.ensure_setup_token(data_dir), practice_name="Sunny Peds")
    assert "Administrator olive created" in texts(at)
    with session_scope(read_only=True) as session:
        user = session.exec(select(StaffUser)).one()
        practice = session.exec(select(Practice)).one()
        assert (user.role, practice.name, practice.timezone) == (
            "admin", "Sunny Peds", "America/New_York")
        assert session.get(StaffPractice, (user.id, practice.id)) is not None
    assert not setup.token_path(data_dir).exists()


def test_without_demo_an_empty_practice_name_writes_nothing(data_dir):
    at = app_test().run()
    _form(at, setup.ensure_setup_token(data_dir), practice_name="")
    assert "Practice name is empty" in texts(at)
    assert _count(StaffUser) == 0 and _count(Practice) == 0


def test_setup_asks_for_the_public_address_and_the_practice_keeps_it(data_dir):
    at = app_test().run()
    _fill(at, **{"Public address of this app": "https://portal.sunnypeds.example/"})
    _form(at, setup.ensure_setup_token(data_dir), practice_name="Sunny Peds")
    assert "Administrator olive created" in texts(at)
    with session_scope(read_only=True) as session:
        portal_url = session.exec(select(Practice.portal_url)).one()
    assert portal_url == "https://portal.sunnypeds.example"


def test_a_public_address_that_is_no_web_address_writes_nothing(data_dir):
    at = app_test().run()
    _fill(at, **{"Public address of this app": "portal dot example"})
    _form(at, setup.ensure_setup_token(data_dir), practice_name="Sunny Peds")
    assert "Public address of this app “portal dot example” is not a web address" in texts(at)
    assert _count(StaffUser) == 0 and _count(Practice) == 0
