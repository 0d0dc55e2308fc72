"""Delivery: a real SMTP server receives the welcome email; held, failed and retried messages;
exactly-once sending; STARTTLS, SSL and login; the SMS API; the admin's outbox."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
import time
import urllib.parse

import pytest
from sqlmodel import func, select

from models import AuditEvent, OutboxMessage, OutboxStatus
from services import outbox as outbox_service
from services import registration, registration_context
from services.db import session_scope
from services.errors import Conflict, NotFound
from services.messages import PIN_PLACEHOLDER, Channel
from services.outbox import MAX_ATTEMPTS, DeliveryReport, backoff, send_due_messages
from services.pins import normalize_pin
from services.registration_form import RegistrationForm
from services.senders import Senders, SmtpMailer, senders_from_settings
from services.settings import Settings, get_settings
from tests.factories import make_guardian, make_patient, make_practice, make_user
from tests.fakes import RecordingMailer
from tests.smtp_server import (
    HOST,
    accept_login,
    client_tls_context,
    free_port,
    self_signed,
    server_tls_context,
    smtp_server,
)

NOW = dt.datetime(2025, 6, 2, 14, 30, tzinfo=dt.UTC)


@pytest.fixture
def clinic(session):
    practice = make_practice(session, name="Sunny Peds", portal_url="https://portal.sunny.example",
                             email="desk@sunny.example", phone="(555) 010-2000",
                             address="1 Main Street")
    staff = make_user(session, practices=[practice], username="frontdesk")
    patient = make_patient(session, practice, first_name="José", last_name="O’Brien")
    guardian = make_guardian(session, practice, patients=[patient], first_name="Ana",
                             last_name="O’Brien", email="ana@example.com")
    session.commit()
    return {"practice": practice, "staff": staff, "patient": patient, "guardian": guardian}


def configure_smtp(monkeypatch, port: int, **extra: str) -> None:
    monkeypatch.setenv("PORTAL_SMTP_HOST", HOST)
    monkeypatch.setenv("PORTAL_SMTP_PORT", str(port))
    monkeypatch.setenv("PORTAL_SMTP_SECURITY", extra.pop("security", "none"))
    monkeypatch.setenv("PORTAL_SMTP_FROM", "Sunny Peds <portal@sunny.example>")
    monkeypatch.setenv("PORTAL_SMTP_TIMEOUT", "5")
    for name, value in extra.items():
        monkeypatch.setenv(f"PORTAL_{name.upper()}", value)
    get_settings.cache_clear()


def register(clinic, *, senders=None, patient=None, now=NOW, **changes):
    values = {"email": "ana@example.com", "guardian_id": clinic["guardian"].id}
    values.update(changes)
    with session_scope() as session:
        return registration.register_patient(
            session, practice_id=clinic["practice"].id,
            patient_id=(patient or clinic["patient"]).id, form=RegistrationForm(**values),
            actor="frontdesk", staff_user_id=clinic["staff"].id, senders=senders, now=now)


def deliver(*, senders=None, now=None, **options):
    with session_scope() as session:
        return send_due_messages(session, senders=senders, now=now, **options)


def outbox() -> list[OutboxMessage]:
    with session_scope(read_only=True) as session:
        found = session.exec(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        for row in found:
            session.expunge(row)
        return found


def audit_actions() -> list[str]:
    with session_scope(read_only=True) as session:
        return list(session.exec(select(AuditEvent.action).order_by(AuditEvent.id)).all())


def parts(message):
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


# --- a real SMTP server ----------------------------------------------------------------------


def test_welcome_email_arrives_with_text_and_html_parts_and_headers(clinic, monkeypatch):
    with smtp_server() as (inbox, port):
        configure_smtp(monkeypatch, port)
        result = register(clinic)
        [queued] = outbox()
        assert queued.status == OutboxStatus.pending  # SMTP is configured: due now
        report = deliver(message_ids=result.message_ids)

    assert report.sent == 1 and report.errors == ()
    [(mail_from, recipients, message)] = inbox.received
    assert mail_from == "portal@sunny.example" and recipients == ["ana@example.com"]
    assert message["From"] == "Sunny Peds <portal@sunny.example>"
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Sunny Peds patient portal: your invitation for José"
    assert message["Reply-To"] == "desk@sunny.example"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Message-ID"].endswith("@sunny.example>")
    assert message["Date"]
    assert message.get_content_type() == "multipart/alternative"
    text, html = parts(message)
    assert "Dear Ana O’Brien," in text
    assert result.activation_url in text
    assert f"Your PIN: {result.pin}" in text
    assert PIN_PLACEHOLDER not in text and PIN_PLACEHOLDER not in html
    assert result.pin in html
    assert f'href="{result.activation_url.replace("&", "&amp;")}"' in html
    assert "José" in html and "O’Brien" in html
    [sent] = outbox()
    assert sent.status == OutboxStatus.sent and sent.sent_at is not None
    assert sent.sealed_secret is None
    assert PIN_PLACEHOLDER in sent.body_text  # the stored body never held the PIN itself
    assert audit_actions()[-1] == "message_sent"


def test_do_not_send_pin_sends_the_link_without_the_pin(clinic, monkeypatch):
    with smtp_server() as (inbox, port):
        configure_smtp(monkeypatch, port)
        result = register(clinic, send_pin=False)
        deliver()

    [message] = inbox.messages
    text, html = parts(message)
    assert result.activation_url in text
    for body in (text, html, message.as_string()):
        assert result.pin not in body and normalize_pin(result.pin) not in body
    assert "letter" in text


def test_with_text_message_the_pin_goes_by_text_and_not_in_the_email(clinic, monkeypatch):
    with smtp_server() as (inbox, port):
        configure_smtp(monkeypatch, port)
        result = register(clinic, send_text=True, cell_phone="(312) 555-0199",
                          cell_carrier="tmobile")
        report = deliver()

    assert report.sent == 2
    by_recipient = {recipients[0]: message for _, recipients, message in inbox.received}
    email = by_recipient["ana@example.com"]
    text = by_recipient["3125550199@tmomail.net"]
    for body in (*parts(email), email.as_string()):
        assert result.pin not in body and normalize_pin(result.pin) not in body
    assert result.activation_url in parts(email)[0]
    assert result.pin in text.get_content()
    assert result.activation_url not in text.get_content()
    assert text.get_content_type() == "text/plain"


def test_smtp_down_keeps_the_registration_and_queues_the_error(clinic, monkeypatch):
    configure_smtp(monkeypatch, free_port())  # nothing listens there
    result = register(clinic)
    report = deliver(now=NOW)

    assert report.retrying == 1 and report.sent == 0
    [message] = outbox()
    assert message.status == OutboxStatus.pending
    assert message.attempts == 1
    assert "Connection refused" in message.last_error or "Errno" in message.last_error
    assert message.sealed_secret  # the PIN still waits, sealed, for the next try
    assert message.next_attempt_at > NOW
    assert result.enrollment_id
    assert audit_actions()[-1] == "message_failed"


def test_without_smtp_messages_are_held_until_it_is_configured(clinic, monkeypatch):
    register(clinic)
    assert deliver().sent == 0
    [message] = outbox()
    assert message.status == OutboxStatus.held and message.attempts == 0

    with smtp_server() as (inbox, port):
        configure_smtp(monkeypatch, port)
        assert deliver().sent == 1
    assert len(inbox.messages) == 1
    assert outbox()[0].status == OutboxStatus.sent


def test_a_refused_recipient_fails_at_once_and_keeps_the_message(clinic, monkeypatch):
    with smtp_server() as (inbox, port):
        inbox.refuse.add("ana@example.com")
        configure_smtp(monkeypatch, port)
        register(clinic)
        report = deliver()
    assert report.failed == 1
    [message] = outbox()
    assert message.status == OutboxStatus.failed
    assert "refused" in message.last_error


def test_starttls_with_login(clinic, session, monkeypatch, tmp_path):
    second = make_patient(session, clinic["practice"])
    second_guardian = make_guardian(session, clinic["practice"], patients=[second])
    session.commit()
    cert, key = self_signed(tmp_path)
    with smtp_server(tls_context=server_tls_context(cert, key), require_starttls=True,
                     authenticator=accept_login("portal", "s3cret-pass"),
                     auth_require_tls=True, auth_required=True) as (inbox, port):
        configure_smtp(monkeypatch, port, security="starttls", smtp_username="portal",
                       smtp_password="s3cret-pass")
        register(clinic)
        mailer = SmtpMailer(get_settings(), ssl_context=client_tls_context(cert))
        report = deliver(senders=Senders(mailer=mailer))
        assert report.sent == 1, report.errors

        configure_smtp(monkeypatch, port, security="starttls", smtp_username="portal",
                       smtp_password="wrong-password")
        register(clinic, patient=second, guardian_id=second_guardian.id,
                 email=second_guardian.email)
        mailer = SmtpMailer(get_settings(), ssl_context=client_tls_context(cert))
        refused = deliver(senders=Senders(mailer=mailer))
    assert len(inbox.messages) == 1
    assert refused.sent == 0 and refused.failed == 1
    assert "535" in outbox()[-1].last_error


def test_implicit_ssl(clinic, monkeypatch, tmp_path):
    cert, key = self_signed(tmp_path)
    with smtp_server(ssl_context=server_tls_context(cert, key)) as (inbox, port):
        configure_smtp(monkeypatch, port, security="ssl")
        register(clinic)
        mailer = SmtpMailer(get_settings(), ssl_context=client_tls_context(cert))
        report = deliver(senders=Senders(mailer=mailer))
    assert report.sent == 1, report.errors
    assert len(inbox.messages) == 1


# --- retries and exactly-once ----------------------------------------------------------------


def test_failures_back_off_then_give_up_without_dropping_the_message(clinic):
    mailer = RecordingMailer(fail_with=OSError("451 try later"))
    senders = Senders(mailer=mailer)
    register(clinic, senders=senders)
    now = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = deliver(senders=senders, now=now)
        [message] = outbox()
        assert message.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert report.retrying == 1
            assert message.status == OutboxStatus.pending
            assert deliver(senders=senders, now=now).skipped == 0  # not due yet: not tried
            assert outbox()[0].attempts == attempt
            now = message.next_attempt_at
        else:
            assert report.failed == 1
    [message] = outbox()
    assert message.status == OutboxStatus.failed
    assert message.sealed_secret  # kept, so an admin can resend once the server is fixed
    assert "451 try later" in message.last_error
    assert backoff(1) == dt.timedelta(minutes=1) and backoff(3) == dt.timedelta(minutes=4)
    assert backoff(30) == dt.timedelta(hours=6)


class SlowMailer(RecordingMailer):
    def send(self, message):
        time.sleep(0.02)  # widen the window in which two senders could collide
        with self.lock:
            super().send(message)

    lock = threading.Lock()


def test_two_senders_at_once_deliver_each_message_exactly_once(clinic, session):
    practice = clinic["practice"]
    patients = [make_patient(session, practice) for _ in range(6)]
    for patient in patients:
        make_guardian(session, practice, patients=[patient])
    session.commit()
    mailer = SlowMailer()
    senders = Senders(mailer=mailer)
    for patient in patients:
        with session_scope() as s:
            guardian = registration_context.get_registration_context(
                s, practice_id=practice.id, patient_id=patient.id).guardians[0]
        register(clinic, senders=senders, patient=patient, guardian_id=guardian.id,
                 email=guardian.email, send_text=True, cell_phone="6175550123",
                 cell_carrier="verizon")

    reports = []
    threads = [threading.Thread(target=lambda: reports.append(deliver(senders=senders)))
               for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sum(report.sent for report in reports) == 12
    assert len(mailer.sent) == 12
    assert len({message["Message-ID"] for message in mailer.sent}) == 12
    assert all(message.status == OutboxStatus.sent for message in outbox())
    assert deliver(senders=senders).sent == 0


# --- the SMS API -----------------------------------------------------------------------------


class SmsApi(http.server.BaseHTTPRequestHandler):
    requests: list[dict] = []
    status = 201

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        SmsApi.requests.append({"path": self.path, "auth": self.headers["Authorization"],
                                "type": self.headers["Content-Type"],
                                "form": dict(urllib.parse.parse_qsl(body))})
        self.send_response(SmsApi.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"sid": "SM1"}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def sms_api(monkeypatch):
    SmsApi.requests, SmsApi.status = [], 201
    server = http.server.ThreadingHTTPServer((HOST, 0), SmsApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PORTAL_SMS_API_URL",
                       f"http://{HOST}:{server.server_port}/2010-04-01/Accounts/AC1/Messages.json")
    monkeypatch.setenv("PORTAL_SMS_API_ACCOUNT", "AC1")
    monkeypatch.setenv("PORTAL_SMS_API_TOKEN", "token-123")
    monkeypatch.setenv("PORTAL_SMS_FROM", "+16175550100")
    get_settings.cache_clear()
    yield SmsApi
    server.shutdown()
    server.server_close()


def test_texts_go_through_the_sms_api_with_basic_auth(clinic, sms_api):
    mailer = RecordingMailer()
    senders = Senders(mailer=mailer, texter=senders_from_settings().texter)
    result = register(clinic, senders=senders, send_text=True, cell_phone="312-555-0199")
    report = deliver(senders=senders)

    assert report.sent == 2
    [request] = sms_api.requests
    assert request["path"] == "/2010-04-01/Accounts/AC1/Messages.json"
    assert request["auth"] == "Basic QUMxOnRva2VuLTEyMw=="  # AC1:token-123
    assert request["type"] == "application/x-www-form-urlencoded"
    assert request["form"]["To"] == "+13125550199"
    assert request["form"]["From"] == "+16175550100"
    assert result.pin in request["form"]["Body"]
    assert result.pin not in mailer.sent[0].as_string()


def test_sms_api_errors_retry_on_5xx_and_fail_on_4xx(clinic, sms_api):
    senders = Senders(mailer=RecordingMailer(), texter=senders_from_settings().texter)
    register(clinic, senders=senders, send_text=True, cell_phone="312-555-0199")
    sms_api.status = 503
    assert deliver(senders=senders, now=NOW).retrying == 1
    sms_api.status = 400
    later = NOW + dt.timedelta(hours=1)
    assert deliver(senders=senders, now=later).failed == 1
    text = next(m for m in outbox() if m.channel == "sms_api")
    assert text.status == OutboxStatus.failed and "HTTP 400" in text.last_error


# --- sealing, the admin's outbox, resend -----------------------------------------------------


def test_sealed_pin_opens_only_with_the_outbox_key(database_url, monkeypatch):
    sealed = outbox_service.seal_secret("7KQ4M9TXR2")
    assert "7KQ4M9TXR2" not in sealed
    assert outbox_service.unseal_secret(sealed) == "7KQ4M9TXR2"
    monkeypatch.setenv("PORTAL_OUTBOX_KEY", "x" * 40)
    get_settings.cache_clear()
    with pytest.raises(Exception, match="outbox key changed"):
        outbox_service.unseal_secret(sealed)


def test_outbox_lists_a_page_with_the_placeholder_never_the_pin(clinic, session):
    results = [register(clinic)]
    for _ in range(4):
        patient = make_patient(session, clinic["practice"])
        guardian = make_guardian(session, clinic["practice"], patients=[patient])
        session.commit()
        results.append(register(clinic, patient=patient, guardian_id=guardian.id,
                                email=guardian.email))
    other = make_practice(session)
    session.commit()
    with session_scope(read_only=True) as s:
        first = outbox_service.list_outbox(s, practice_id=clinic["practice"].id, page=1,
                                          page_size=3)
        second = outbox_service.list_outbox(s, practice_id=clinic["practice"].id, page=2,
                                           page_size=3)
        held = outbox_service.list_outbox(s, practice_id=clinic["practice"].id, status="held")
        foreign = outbox_service.list_outbox(s, practice_id=other.id)
        counts = outbox_service.count_outbox(s, practice_id=clinic["practice"].id)
    assert (first.total, first.pages, len(first.rows), len(second.rows)) == (5, 2, 3, 2)
    assert set(first.rows["id"]) | set(second.rows["id"]) == {m.id for m in outbox()}
    assert held.total == 5 and foreign.total == 0
    assert counts["held"] == 5
    previews = " ".join(first.rows["body preview"]) + " ".join(second.rows["body preview"])
    for result in results:
        assert result.pin not in previews and normalize_pin(result.pin) not in previews


def test_resend_from_the_outbox(clinic):
    mailer = RecordingMailer(fail_with=OSError("down"))
    senders = Senders(mailer=mailer)
    register(clinic, senders=senders)
    for attempt in range(MAX_ATTEMPTS):
        deliver(senders=senders, now=NOW + dt.timedelta(days=attempt))
    [message] = outbox()
    assert message.status == OutboxStatus.failed

    mailer.fail_with = None
    with session_scope() as s:
        target = outbox_service.resend_message(s, practice_id=clinic["practice"].id,
                                              message_id=message.id, actor="admin",
                                              senders=senders, now=NOW)
    assert target == message.id
    assert deliver(senders=senders, now=NOW).sent == 1
    assert "Your PIN:" in mailer.sent[0].get_body(("plain",)).get_content()

    # Sent, the PIN is gone: a resend of that message would carry a placeholder, so no.
    with session_scope() as s, pytest.raises(Conflict, match="Issue a new PIN"):
        outbox_service.resend_message(s, practice_id=clinic["practice"].id,
                                     message_id=message.id, actor="admin", senders=senders)
    with session_scope() as s, pytest.raises(NotFound):
        outbox_service.resend_message(s, practice_id=clinic["practice"].id + 99,
                                     message_id=message.id, actor="admin", senders=senders)


def test_resend_of_a_sent_message_without_a_pin_sends_a_copy(clinic):
    mailer = RecordingMailer()
    senders = Senders(mailer=mailer)
    register(clinic, senders=senders, send_pin=False)
    deliver(senders=senders)
    [message] = outbox()
    with session_scope() as s:
        target = outbox_service.resend_message(s, practice_id=clinic["practice"].id,
                                              message_id=message.id, actor="admin",
                                              senders=senders)
    assert target != message.id
    assert deliver(senders=senders).sent == 1
    assert len(mailer.sent) == 2
    with session_scope(read_only=True) as s:
        assert s.exec(select(func.count()).select_from(OutboxMessage)).one() == 2


def test_settings_without_smtp_build_no_mailer(database_url):
    senders = senders_from_settings(Settings())
    assert senders.mailer is None and senders.texter is None
    assert not senders.ready("email") and not senders.ready("sms_api")


@pytest.mark.parametrize(("report", "count", "words"), [
    (None, 2, "will be sent by the next send-outbox run"),
    (DeliveryReport(sent=2), 2, "Sent."),
    (DeliveryReport(), 1, "no mail server is configured yet"),
    (DeliveryReport(sent=1, retrying=1, errors=("SMTP 451",)), 2, "1 of 2 sent"),
], ids=["not run", "all sent", "held", "some failed"])
def test_delivery_is_described_in_one_wording(report, count, words):
    text = outbox_service.describe_delivery(report, count)
    assert words in text
    assert "SMTP 451" not in text  # the server's words stay on the Outbox page


def test_resend_and_send_runs_are_described_in_words():
    assert outbox_service.describe_resend(DeliveryReport(sent=1), 7) == \
        "Message 7 was sent again."
    assert "could not be sent yet: boom" in outbox_service.describe_resend(
        DeliveryReport(retrying=1, errors=("boom",)), 7)
    assert "held until a mail server" in outbox_service.describe_resend(DeliveryReport(), 7)
    assert outbox_service.describe_run(DeliveryReport(sent=2, retrying=1)) == \
        "Sent 2; will retry 1; failed 0."


def test_channels_and_statuses_have_words():
    assert [outbox_service.channel_label(c) for c in Channel] == [
        "Email", "Text via carrier gateway", "Text via SMS service"]
    assert [outbox_service.status_label(s) for s in OutboxStatus] == [
        outbox_service.STATUS_LABELS[s] for s in OutboxStatus]
    assert not [label for label in outbox_service.STATUS_LABELS.values() if "_" in label]
