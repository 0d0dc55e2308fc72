"""Reminders at day 3 and day 10 and before expiry, with an injected clock: in the parent's
language, link only, never after activation, decline or void, never twice for a point."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from models import (
    AuditEvent,
    Enrollment,
    EnrollmentStatus,
    OutboxMessage,
    Practice,
    ReminderSent,
)
from services import reminder_settings, reminders, text_opt_out
from services.errors import InvalidInput
from services.senders import Senders
from tests.factories import make_enrollment, make_guardian, make_patient, make_practice

ISSUED = dt.datetime(2026, 11, 2, 15, 0, tzinfo=dt.UTC)
NO_SENDERS = Senders()  # nothing configured: reminders wait as held, visible and countable


def day(days: float) -> dt.datetime:
    return ISSUED + dt.timedelta(days=days)


@pytest.fixture
def invited(session):
    practice = make_practice(session, name="Sunny Peds", pin_lifetime_days=14,
                             phone="(555) 010-2000")
    patient = make_patient(session, practice, first_name="Sofía")
    guardian = make_guardian(session, practice, patients=[patient], first_name="Ana",
                             last_name="Díaz", email="ana@example.com", preferred_language="es")
    enrollment = make_enrollment(session, practice, patient=patient, guardian=guardian,
                                 issued_at=ISSUED)
    session.commit()
    return enrollment


def run(session, when: dt.datetime) -> reminders.ReminderReport:
    return reminders.send_reminders(session, now=when, senders=NO_SENDERS)


def emails(session) -> list[OutboxMessage]:
    session.expire_all()
    return list(session.exec(select(OutboxMessage).where(OutboxMessage.channel == "email")
                             .order_by(OutboxMessage.id)).all())


def test_reminders_at_day_3_and_day_10_and_none_between(session, invited):
    assert run(session, day(2.9)).reminded == 0
    assert run(session, day(3)).reminded == 1
    assert run(session, day(5)).reminded == 0
    assert run(session, day(10.1)).reminded == 1
    assert run(session, day(11)).reminded == 0
    points = session.exec(select(ReminderSent.point).order_by(ReminderSent.id)).all()
    assert points == ["after 3 days", "after 10 days"]
    session.refresh(invited)
    assert invited.reminders_sent == 2 and invited.last_reminder_at == day(10.1)


def test_two_runs_at_the_same_moment_send_one_reminder(session, invited):
    assert run(session, day(3.2)).reminded == 1
    assert run(session, day(3.2)).reminded == 0
    assert len(emails(session)) == 1


def test_the_reminder_is_in_the_parents_language_with_the_link_and_no_pin(session, invited):
    run(session, day(3))
    [email] = emails(session)
    assert email.subject == "Recordatorio: portal del paciente de Sunny Peds para Sofía"
    assert "Estimado(a) Ana Díaz:" in email.body_text
    assert "todavía no ha creado su cuenta" in email.body_text
    assert f"token={invited.link_token}" in email.body_text and "lang=es" in email.body_text
    assert "El PIN es válido hasta el 16 de noviembre de 2026" in email.body_text
    assert "[[PIN]]" not in email.body_text and email.sealed_secret is None
    assert '<html lang="es">' in email.body_html


def test_before_expiry_reminder_and_after_expiry_none(session, invited):
    run(session, day(3))
    run(session, day(10))
    assert run(session, day(12)).reminded == 1  # 2 days before the 14-day PIN expires
    assert run(session, day(15)).reminded == 0
    assert session.exec(select(ReminderSent.point).order_by(ReminderSent.id)).all()[-1] == \
        "expiry 2 days"


@pytest.mark.parametrize("change", ["activated", "declined", "voided", "locked"])
def test_no_reminder_after_activation_decline_void_or_lock(session, invited, change):
    if change == "activated":
        invited.status, invited.activated_at = EnrollmentStatus.active, day(1)
    elif change == "declined":
        invited.status = EnrollmentStatus.declined
    elif change == "voided":
        invited.status, invited.voided_at = EnrollmentStatus.voided, day(1)
    else:
        invited.status = EnrollmentStatus.locked
    session.add(invited)
    session.commit()
    assert run(session, day(3)).reminded == 0
    assert emails(session) == []


def test_a_stopped_sender_does_not_send_a_burst_later(session, invited):
    report = run(session, day(13.5))  # days 3 and 10 were missed; the expiry point is due
    assert report.reminded == 1
    assert len(emails(session)) == 1
    assert len(session.exec(select(ReminderSent)).all()) == 3
    assert run(session, day(13.6)).reminded == 0
    assert run(session, day(40)).reminded == 0


def test_after_the_pin_expired_the_reminder_invites_a_call(session):
    practice = make_practice(session, pin_lifetime_days=2, phone="(555) 010-2000")
    enrollment = make_enrollment(session, practice, issued_at=ISSUED)
    session.commit()
    run(session, day(3))
    [email] = emails(session)
    assert email.enrollment_id == enrollment.id
    assert "Your PIN has expired. Call us and we will issue a new one." in email.body_text
    assert "Questions? Call us at (555) 010-2000." in email.body_text


def test_reminder_text_only_with_consent_and_not_to_an_opted_out_number(session, invited,
                                                                       monkeypatch):
    invited.send_text, invited.cell_phone, invited.cell_carrier = True, "+16175550123", "cricket"
    session.add(invited)
    session.commit()
    run(session, day(3))
    assert session.exec(select(OutboxMessage).where(OutboxMessage.channel != "email")).all() == []

    invited.text_consent_at = ISSUED
    session.add(invited)
    session.commit()
    run(session, day(10))
    [text] = session.exec(select(OutboxMessage).where(OutboxMessage.channel != "email")).all()
    assert text.recipient == "6175550123@sms.cricketwireless.net"
    assert text.body_text.startswith("Sunny Peds: le recordamos")
    assert text.body_text.endswith("Responda STOP para no recibir más mensajes")

    text_opt_out.add_opt_out(session, phone="+16175550123", actor="desk")
    session.commit()
    report = run(session, day(12))
    assert report.reminded == 1 and report.texts == 0 and "opted out" in report.notes[0]


def test_reminders_show_in_the_portal_history(session, invited):
    run(session, day(3))
    [event] = session.exec(select(AuditEvent).where(AuditEvent.action == "reminder_sent")).all()
    assert event.patient_id == invited.patient_id and "after 3 days" in event.detail


def test_practice_settings_turn_reminders_off_or_change_the_days(session, invited):
    practice = session.get(Practice, invited.practice_id)
    practice.remind_after_days, practice.remind_before_expiry_days = "5", 0
    session.add(practice)
    session.commit()
    assert run(session, day(3)).reminded == 0
    assert run(session, day(5)).reminded == 1
    assert run(session, day(12.5)).reminded == 0
    assert session.get(Enrollment, invited.id).reminders_sent == 1


@pytest.mark.parametrize(("text", "days"), [("3,10", (3, 10)), (" 10 ; 3 ", (3, 10)),
                                            ("", ()), ("7, 7", (7,))])
def test_parse_remind_after(text, days):
    assert reminder_settings.parse_remind_after(text) == days


@pytest.mark.parametrize("text", ["three", "0", "61", "3,-1", "1,2,3,4,5,6"])
def test_bad_remind_after_names_the_field(text):
    with pytest.raises(InvalidInput) as raised:
        reminder_settings.parse_remind_after(text)
    assert raised.value.field == "Remind after (days)"
