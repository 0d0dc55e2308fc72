"""Outbox (admin) in AppTest: the list shows the placeholder, never the PIN; paging; resend."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from models import OutboxMessage, OutboxStatus, Role
from services import registration
from services.db import session_scope
from services.pins import normalize_pin
from services.registration_form import RegistrationForm
from services.settings import get_settings
from tests.factories import make_guardian, make_patient, make_practice, make_user
from tests.pages.helpers import signed_in, texts
from tests.smtp_server import HOST, smtp_server

PAGE = "pages/outbox.py"


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds")
    make_user(session, role=Role.admin, practices=[practice], username="admin")
    pins = []
    for _ in range(3):
        patient = make_patient(session, practice)
        guardian = make_guardian(session, practice, patients=[patient])
        session.commit()
        with session_scope() as s:
            result = registration.register_patient(
                s, practice_id=practice.id, patient_id=patient.id,
                form=RegistrationForm(email=guardian.email, guardian_id=guardian.id),
                actor="frontdesk")
        pins.append(result.pin)
    return {"practice": practice, "pins": pins}


def open_outbox(clinic):
    at = signed_in("admin", practice_id=clinic["practice"].id)
    at.switch_page(PAGE)
    return at.run()


def test_lists_held_messages_with_the_placeholder_not_the_pin(clinic):
    at = open_outbox(clinic)
    assert not at.exception, at.exception
    assert "No mail server is configured" in texts(at)
    [table] = at.dataframe
    frame = table.value
    assert len(frame) == 3
    assert set(frame["Status"]) == {"Held"}
    assert set(frame["Sent by"]) == {"Email"}
    assert list(frame.columns) == ["Message", "Created", "Sent by", "To", "Subject", "Status",
                                   "Tries", "Error", "Next try", "Sent", "Body preview"]
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d [AP]M", value)
               for value in frame["Created"])
    shown = frame.to_string() + texts(at)
    for pin in clinic["pins"]:
        assert pin not in shown and normalize_pin(pin) not in shown
    assert [metric.value for metric in at.metric][:1] == ["3"]


def test_resend_delivers_once_smtp_is_configured(clinic, monkeypatch):
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("PORTAL_SMTP_HOST", HOST)
        monkeypatch.setenv("PORTAL_SMTP_PORT", str(port))
        monkeypatch.setenv("PORTAL_SMTP_SECURITY", "none")
        get_settings.cache_clear()
        at = open_outbox(clinic)
        newest = int(at.dataframe[0].value["Message"][0].lstrip("#"))
        at.selectbox(key="outbox_message").set_value(newest)
        at.button(key="outbox_resend").click().run()
        assert not at.exception, at.exception
        assert "was sent again" in texts(at)
        assert len(inbox.messages) == 1
        at.button(key="outbox_send_due").click().run()
        assert "Sent 2" in texts(at)
    assert len(inbox.messages) == 3
    with session_scope(read_only=True) as session:
        statuses = session.exec(select(OutboxMessage.status)).all()
    assert set(statuses) == {OutboxStatus.sent}


def test_status_filter(clinic):
    at = open_outbox(clinic)
    at.selectbox(key="outbox_status").set_value("sent").run()
    assert "No messages here yet" in texts(at)


def test_says_when_the_worker_was_last_seen(clinic, session):
    import datetime as dt

    import streamlit as st

    from services.worker import touch_heartbeat

    assert "No worker has run yet" in texts(open_outbox(clinic))
    st.cache_data.clear()  # the page caches reads for a few seconds
    touch_heartbeat(session, name="host:1",
                    now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=2, seconds=30))
    session.commit()
    shown = texts(open_outbox(clinic))
    assert "Worker last seen 2 minutes ago." in shown
