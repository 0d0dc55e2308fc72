"""Text Opt-Outs page: admins add and remove numbers; a bad number is refused by name."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import Role, TextOptOut
from services.db import session_scope
from tests.factories import make_practice, make_user
from tests.pages.admin_support import widget
from tests.pages.helpers import signed_in, texts

PAGE = "pages/text_opt_outs.py"


@pytest.fixture
def practice(session):
    practice = make_practice(session, name="Sunny Peds")
    make_user(session, role=Role.admin, practices=[practice], username="boss")
    make_user(session, role=Role.staff, practices=[practice], username="desk")
    session.commit()
    return practice


def numbers() -> list[str]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(TextOptOut.phone)).all())


def test_an_admin_adds_and_removes_a_number(practice):
    at = signed_in("boss", practice_id=practice.id, page=PAGE)
    assert not at.exception
    assert "No number has opted out of texts." in texts(at)
    widget(at, "text_input", "Cell phone number").input("(617) 555-0123")
    widget(at, "text_input", "Note").input("replied STOP")
    at.button[0].click().run()
    assert not at.exception
    assert numbers() == ["+16175550123"]
    assert at.dataframe[0].value["Cell phone"].tolist() == ["(617) 555-0123"]
    next(b for b in at.button if b.label == "Remove from opt-out list").click().run()
    assert numbers() == []


def test_a_bad_number_is_refused_naming_the_field(practice):
    at = signed_in("boss", practice_id=practice.id, page=PAGE)
    widget(at, "text_input", "Cell phone number").input("555-12")
    at.button[0].click().run()
    assert "Cell phone number" in " ".join(str(e.value) for e in at.error)
    assert numbers() == []


def test_front_desk_staff_are_not_offered_it(practice):
    at = signed_in("desk", practice_id=practice.id)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(PAGE)
