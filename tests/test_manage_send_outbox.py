"""`python manage.py send-outbox`: SMTP down keeps the message; SMTP back delivers it once."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import update
from sqlmodel import select

import manage
from models import Enrollment, OutboxMessage, OutboxStatus
from services import registration
from services.db import session_scope
from services.registration_form import RegistrationForm
from services.settings import get_settings
from tests.factories import make_guardian, make_patient, make_practice, make_user
from tests.smtp_server import HOST, free_port, smtp_server

ROOT = Path(__file__).resolve().parent.parent


def smtp_env(monkeypatch, port: int) -> None:
    monkeypatch.setenv("PORTAL_SMTP_HOST", HOST)
    monkeypatch.setenv("PORTAL_SMTP_PORT", str(port))
    monkeypatch.setenv("PORTAL_SMTP_SECURITY", "none")
    monkeypatch.setenv("PORTAL_SMTP_TIMEOUT", "5")
    get_settings.cache_clear()


def register_one(session) -> registration.RegistrationResult:
    practice = make_practice(session)
    staff = make_user(session, practices=[practice])
    patient = make_patient(session, practice)
    guardian = make_guardian(session, practice, patients=[patient], email="mom@example.com")
    session.commit()
    with session_scope() as s:
        return registration.register_patient(
            s, practice_id=practice.id, patient_id=patient.id,
            form=RegistrationForm(email=guardian.email, guardian_id=guardian.id),
            actor=staff.username, staff_user_id=staff.id)


def the_message() -> OutboxMessage:
    with session_scope(read_only=True) as session:
        message = session.exec(select(OutboxMessage)).one()
        session.expunge(message)
        return message


def send_outbox_cli() -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "send-outbox"], cwd=ROOT,
                          env=dict(os.environ), capture_output=True, text=True, timeout=120)


def test_help_lists_send_outbox():
    result = subprocess.run([sys.executable, "manage.py", "--help"], cwd=ROOT,
                            capture_output=True, text=True, check=True)
    assert "send-outbox" in result.stdout


def test_smtp_down_then_back_delivers_exactly_once(session, monkeypatch, capsys):
    smtp_env(monkeypatch, free_port())  # configured, but nothing listens: SMTP is down
    result = register_one(session)

    assert manage.main(["send-outbox"]) == 1
    assert "will retry 1" in capsys.readouterr().out
    message = the_message()
    assert message.status == OutboxStatus.pending and message.attempts == 1
    assert message.last_error and message.sealed_secret
    with session_scope(read_only=True) as s:
        assert s.exec(select(Enrollment)).one().status == "invited"  # registration kept

    with session_scope() as s:  # the backoff has passed
        s.exec(update(OutboxMessage).values(
            next_attempt_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)))
    with smtp_server() as (inbox, port):
        smtp_env(monkeypatch, port)
        first = send_outbox_cli()
        second = send_outbox_cli()
    assert first.returncode == 0, first.stderr
    assert "Sent 1" in first.stdout
    assert second.returncode == 0 and "Sent 0" in second.stdout
    assert len(inbox.messages) == 1
    assert result.pin in inbox.messages[0].get_body(("plain",)).get_content()
    message = the_message()
    assert message.status == OutboxStatus.sent and message.sealed_secret is None


def test_without_smtp_nothing_is_sent_and_messages_stay_held(session, capsys):
    register_one(session)
    assert manage.main(["send-outbox"]) == 0
    assert "stay held" in capsys.readouterr().out
    assert the_message().status == OutboxStatus.held


def test_bad_limit_is_refused(database_url, capsys):
    assert manage.main(["send-outbox", "--limit", "0"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().err
