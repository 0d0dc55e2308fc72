"""The STOP list blocks texts to a number; at most 1 text a day and 3 a week per number."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import AuditEvent, TextOptOut
from services import text_opt_out
from services.errors import InvalidInput, NotFound
from tests.factories import make_practice

PHONE = "+16175550123"
NOW = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def test_a_number_that_opted_out_gets_no_text(session):
    assert text_opt_out.text_refusal(session, phone=PHONE, now=NOW) is None
    row = text_opt_out.add_opt_out(session, phone="(617) 555-0123", actor="desk",
                                   source="reply", note="replied STOP")
    assert row.phone == PHONE and row.shown_as == "(617) 555-0123"
    assert row.source == "Replied STOP"
    refusal = text_opt_out.text_refusal(session, phone=PHONE, now=NOW)
    assert refusal and "opted out" in refusal and "(617) 555-0123" in refusal
    assert text_opt_out.text_refusal(session, phone="+16175550124", now=NOW) is None


def test_adding_twice_keeps_one_row_and_removing_allows_texts_again(session):
    text_opt_out.add_opt_out(session, phone="617-555-0123", actor="desk")
    text_opt_out.add_opt_out(session, phone="+1 617 555 0123", actor="desk")
    assert len(session.exec(select(TextOptOut)).all()) == 1
    text_opt_out.remove_opt_out(session, phone="6175550123", actor="desk")
    assert not text_opt_out.is_opted_out(session, phone=PHONE)
    actions = [event.action for event in session.exec(select(AuditEvent)).all()]
    assert actions == ["text_opt_out_added", "text_opt_out_removed"]
    with pytest.raises(NotFound):
        text_opt_out.remove_opt_out(session, phone=PHONE, actor="desk")


def test_a_bad_number_names_the_field(session):
    with pytest.raises(InvalidInput) as raised:
        text_opt_out.add_opt_out(session, phone="555-12", actor="desk")
    assert raised.value.field == "Cell phone number"
    assert session.exec(select(TextOptOut)).all() == []


def test_one_text_per_number_a_day(session):
    practice = make_practice(session)
    text_opt_out.record_text(session, phone=PHONE, practice_id=practice.id, now=NOW)
    refusal = text_opt_out.text_refusal(session, phone=PHONE, now=NOW + dt.timedelta(hours=23))
    assert refusal and "last 24 hours" in refusal
    assert text_opt_out.text_refusal(session, phone=PHONE,
                                     now=NOW + dt.timedelta(hours=24, minutes=1)) is None
    assert text_opt_out.text_refusal(session, phone="+16175550124", now=NOW) is None


def test_three_texts_per_number_a_week(session):
    practice = make_practice(session)
    for day in range(3):
        text_opt_out.record_text(session, phone=PHONE, practice_id=practice.id,
                                 now=NOW + dt.timedelta(days=day * 2))
    fourth = NOW + dt.timedelta(days=5)  # two days after the third: the daily cap is clear
    refusal = text_opt_out.text_refusal(session, phone=PHONE, now=fourth)
    assert refusal and "7 days" in refusal
    assert text_opt_out.text_refusal(session, phone=PHONE, now=NOW + dt.timedelta(days=7, hours=1)
                                     ) is None


def test_the_list_is_newest_first(session):
    text_opt_out.add_opt_out(session, phone="6175550123", actor="desk", now=NOW)
    text_opt_out.add_opt_out(session, phone="6175550124", actor="desk",
                             now=NOW + dt.timedelta(hours=1))
    assert [row.phone for row in text_opt_out.list_opt_outs(session)] == [
        "+16175550124", PHONE]
