"""`manage.py send-outbox` queues the reminders that are due and sends them: a Spanish-preferring
parent invited three days ago receives a Spanish reminder through a real SMTP server, once."""

from __future__ import annotations

import datetime as dt

import manage
from models import utcnow
from services.settings import get_settings
from tests.factories import make_enrollment, make_guardian, make_patient, make_practice
from tests.smtp_server import HOST, smtp_server


def test_send_outbox_sends_a_spanish_reminder_once(session, monkeypatch, capsys):
    practice = make_practice(session, name="Pediatría del Valle")
    patient = make_patient(session, practice, first_name="Mateo")
    guardian = make_guardian(session, practice, patients=[patient], first_name="Lucía",
                             last_name="Peña", email="lucia@example.com",
                             preferred_language="es")
    make_enrollment(session, practice, patient=patient, guardian=guardian,
                    issued_at=utcnow() - dt.timedelta(days=3, hours=1))
    session.commit()
    with smtp_server() as (inbox, port):
        monkeypatch.setenv("PORTAL_SMTP_HOST", HOST)
        monkeypatch.setenv("PORTAL_SMTP_PORT", str(port))
        monkeypatch.setenv("PORTAL_SMTP_SECURITY", "none")
        get_settings.cache_clear()
        assert manage.main(["send-outbox"]) == 0
        assert manage.main(["send-outbox"]) == 0  # a second run sends nothing more
    assert "Queued reminders to 1 parent(s)" in capsys.readouterr().out
    [message] = inbox.messages
    assert message["To"] == "lucia@example.com"
    assert message["Subject"] == (
        "Recordatorio: portal del paciente de Pediatría del Valle para Mateo")
    body = message.get_body(("plain",)).get_content()
    assert "Estimado(a) Lucía Peña:" in body and "lang=es" in body
