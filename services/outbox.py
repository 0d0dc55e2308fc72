"""The outbox: sealing the PIN, queueing, claiming, delivery with backoff, the admin's list and
resend, and the one wording of delivery that Register and the Outbox page show.

Bodies in the database hold a placeholder where the PIN goes; the PIN itself waits encrypted in
`sealed_secret` and is put in only at send time, then erased. Delivery claims each message in its
own short transaction first, so two senders running at once never deliver the same message twice.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import pandas as pd
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import func, or_, update
from sqlmodel import Session, select

from models import Enrollment, OutboxMessage, OutboxStatus, Practice, utcnow
from services.audit import record_event
from services.errors import Conflict, InvalidInput, NotFound
from services.messages import PIN_PLACEHOLDER, Channel, OutgoingMessage
from services.pins import format_pin
from services.senders import PermanentFailure, Senders, senders_from_settings
from services.settings import Settings, outbox_key

MAX_ATTEMPTS = 8
BACKOFF_BASE = dt.timedelta(minutes=1)
BACKOFF_CAP = dt.timedelta(hours=6)
# A claimed message is not offered again before this; a sender that died mid-send is retried.
CLAIM_LEASE = dt.timedelta(minutes=10)
PREVIEW_CHARS = 160


# --- sealing the PIN -----------------------------------------------------------------------


@functools.cache
def _fernet_for(key: str) -> Fernet:
    # Fernet wants 32 url-safe base64 bytes; the outbox key is any string of >= 32 bytes.
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(key.encode("utf-8")).digest()))


def seal_secret(secret: str, *, settings: Settings | None = None) -> str:
    """The secret encrypted with the outbox key, for `OutboxMessage.sealed_secret`."""
    return _fernet_for(outbox_key(settings)).encrypt(secret.encode("utf-8")).decode("ascii")


def unseal_secret(sealed: str, *, settings: Settings | None = None) -> str:
    """The secret back from `seal_secret` (InvalidInput when the outbox key changed)."""
    try:
        return _fernet_for(outbox_key(settings)).decrypt(sealed.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise InvalidInput(
            "The sealed PIN cannot be opened: the outbox key changed since it was queued. "
            "Issue a new PIN."
        ) from None


# --- queueing ------------------------------------------------------------------------------


def queue_message(
    session: Session,
    *,
    practice_id: int,
    enrollment_id: int | None,
    message: OutgoingMessage,
    pin: str | None,
    senders: Senders,
    now: dt.datetime,
) -> OutboxMessage:
    """Add a message to the outbox in the caller's transaction: `pending` when its channel is
    configured, else `held`. A PIN travels only sealed."""
    if message.carries_pin and not pin:
        raise ValueError("a message that carries the PIN needs the PIN to seal")
    ready = senders.ready(message.channel)
    row = OutboxMessage(
        practice_id=practice_id,
        enrollment_id=enrollment_id,
        channel=message.channel,
        recipient=message.recipient,
        subject=message.subject,
        body_text=message.body_text,
        body_html=message.body_html,
        sealed_secret=seal_secret(pin) if message.carries_pin else None,
        status=OutboxStatus.pending if ready else OutboxStatus.held,
        next_attempt_at=now if ready else None,
        created_at=now,
    )
    session.add(row)
    return row


def cancel_unsent_pins(session: Session, *, enrollment_id: int, reason: str) -> int:
    """Stop unsent messages that carry a PIN no longer valid; keep them, erase the PIN."""
    result = session.exec(
        update(OutboxMessage)
        .where(
            OutboxMessage.enrollment_id == enrollment_id,
            OutboxMessage.status.in_([OutboxStatus.held, OutboxStatus.pending,
                                      OutboxStatus.failed]),
            OutboxMessage.sealed_secret.is_not(None),
        )
        .values(status=OutboxStatus.failed, sealed_secret=None, next_attempt_at=None,
                last_error=reason)
    )
    return result.rowcount or 0


# --- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    id: int
    practice_id: int
    patient_id: int | None
    channel: str
    recipient: str
    subject: str
    body_text: str
    body_html: str | None
    sealed_secret: str | None
    attempts: int
    reply_to: str


@dataclass(frozen=True)
class DeliveryReport:
    """What one delivery run did."""

    sent: int = 0
    retrying: int = 0  # failed this time, tried again later
    failed: int = 0  # gave up (or cannot succeed); an admin may resend
    skipped: int = 0  # claimed by another sender first
    errors: tuple[str, ...] = ()


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try after `attempts` failures: 1, 2, 4 ... minutes, capped."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def _due(now: dt.datetime) -> tuple:
    """Held or pending, and neither leased to a sender nor waiting for a retry at `now`."""
    return (OutboxMessage.status.in_([OutboxStatus.held, OutboxStatus.pending]),
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now))


def _claim_next(session: Session, *, channels: list[str], now: dt.datetime,
                message_ids: list[int] | None, practice_id: int | None
                ) -> tuple[_Claimed | None, bool]:
    """Claim the oldest due message in a transaction of its own: (message, lost a race).

    The lease counts from this claim, never from the start of the run, so a slow run cannot
    outlive it. PostgreSQL skips rows another worker is claiming (FOR UPDATE SKIP LOCKED);
    on SQLite the write lock orders claims; the conditional update is the claim on both."""
    query = (select(OutboxMessage.id).where(*_due(now), OutboxMessage.channel.in_(channels))
             .order_by(OutboxMessage.created_at, OutboxMessage.id).limit(1))
    if message_ids is not None:
        query = query.where(OutboxMessage.id.in_(message_ids))
    if practice_id is not None:
        query = query.where(OutboxMessage.practice_id == practice_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    message_id = session.exec(query).first()
    claimed = message_id is not None and session.exec(
        update(OutboxMessage).where(OutboxMessage.id == message_id, *_due(now))
        .values(status=OutboxStatus.pending, attempts=OutboxMessage.attempts + 1,
                next_attempt_at=now + CLAIM_LEASE)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not claimed:
        session.commit()
        return None, message_id is not None
    row = session.exec(
        select(
            OutboxMessage.id, OutboxMessage.practice_id, Enrollment.patient_id,
            OutboxMessage.channel, OutboxMessage.recipient, OutboxMessage.subject,
            OutboxMessage.body_text, OutboxMessage.body_html, OutboxMessage.sealed_secret,
            OutboxMessage.attempts, Practice.email,
        )
        .join(Practice, Practice.id == OutboxMessage.practice_id)
        .outerjoin(Enrollment, Enrollment.id == OutboxMessage.enrollment_id)
        .where(OutboxMessage.id == message_id)
    ).one()
    session.commit()
    return _Claimed(*row[:10], reply_to=row[10] or ""), False


def _fill_pin(body: str | None, message: _Claimed) -> str | None:
    if body is None or PIN_PLACEHOLDER not in body:
        return body
    if not message.sealed_secret:
        raise PermanentFailure("the PIN for this message is no longer kept; issue a new PIN")
    try:
        pin = unseal_secret(message.sealed_secret)
    except InvalidInput as error:
        raise PermanentFailure(error.message) from None
    return body.replace(PIN_PLACEHOLDER, format_pin(pin))


def compose_email(message: _Claimed, *, from_address: str) -> EmailMessage:
    """The MIME email for a claimed outbox row, PIN filled in (text and HTML parts)."""
    email = EmailMessage()
    email["From"] = from_address
    email["To"] = message.recipient
    if message.subject:
        email["Subject"] = message.subject
    email["Date"] = formatdate(localtime=False)
    domain = parseaddr(from_address)[1].rpartition("@")[2] or "localhost"
    email["Message-ID"] = make_msgid(idstring=f"outbox-{message.id}", domain=domain)
    email["Auto-Submitted"] = "auto-generated"
    if message.reply_to and message.channel == Channel.email:
        email["Reply-To"] = message.reply_to
    email.set_content(_fill_pin(message.body_text, message))
    html = _fill_pin(message.body_html, message)
    if html:
        email.add_alternative(html, subtype="html")
    return email


def _deliver(message: _Claimed, senders: Senders) -> None:
    if message.channel == Channel.sms_api:
        senders.texter.send_text(to=message.recipient, body=_fill_pin(message.body_text, message))
    else:
        senders.mailer.send(compose_email(message, from_address=senders.from_address))


def _record_sent(session: Session, message: _Claimed, now: dt.datetime) -> None:
    session.exec(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(status=OutboxStatus.sent, sent_at=now, sealed_secret=None, last_error=None,
                next_attempt_at=None)
        .execution_options(synchronize_session=False)
    )
    record_event(session, actor="system", action="message_sent", practice_id=message.practice_id,
                 patient_id=message.patient_id, message_id=message.id, channel=message.channel,
                 recipient=message.recipient, attempts=message.attempts)
    session.commit()


def _record_failure(session: Session, message: _Claimed, error: Exception,
                    now: dt.datetime) -> bool:
    """Keep the message with its error; True when it will be tried again."""
    text = f"{type(error).__name__}: {error}"[:1000]
    give_up = isinstance(error, PermanentFailure) or message.attempts >= MAX_ATTEMPTS
    session.exec(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(
            status=OutboxStatus.failed if give_up else OutboxStatus.pending,
            last_error=text,
            next_attempt_at=None if give_up else now + backoff(message.attempts),
        )
        .execution_options(synchronize_session=False)
    )
    record_event(session, actor="system", action="message_failed",
                 practice_id=message.practice_id, patient_id=message.patient_id,
                 message_id=message.id, channel=message.channel, recipient=message.recipient,
                 attempts=message.attempts, error=text, gave_up=give_up)
    session.commit()
    return not give_up


def send_due_messages(
    session: Session,
    *,
    senders: Senders | None = None,
    now: dt.datetime | None = None,
    clock: Callable[[], dt.datetime] | None = None,
    limit: int = 200,
    message_ids: Iterable[int] | None = None,
    practice_id: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Send up to `limit` due messages (held ones too once their channel is configured), each
    claimed in its own transaction just before it is sent; failures are kept with their error
    and retried later. `should_stop` is asked before each claim: the message in hand is always
    finished. Tests fix the time with `now` or pass a `clock`."""
    senders = senders or senders_from_settings()
    clock = clock or ((lambda: now) if now is not None else utcnow)
    channels = [channel.value for channel in Channel if senders.ready(channel)]
    ids = None if message_ids is None else list(message_ids)
    counts: Counter[str] = Counter()
    errors: list[str] = []
    # No transaction (nor SQLite write lock) is held while we talk to servers.
    for _ in range(limit if channels else 0):
        if should_stop is not None and should_stop():
            break
        message, raced = _claim_next(session, channels=channels, now=clock(), message_ids=ids,
                                     practice_id=practice_id)
        if message is None:
            if not raced:
                break
            counts["skipped"] += 1
            continue
        try:
            _deliver(message, senders)
        except Exception as error:  # noqa: BLE001 - any failure is kept on the message
            errors.append(f"message {message.id} to {message.recipient}: {error}")
            counts["retrying" if _record_failure(session, message, error, clock()) else
                   "failed"] += 1
            continue
        _record_sent(session, message, clock())
        counts["sent"] += 1
    return DeliveryReport(**counts, errors=tuple(errors))


# --- the admin's outbox --------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxPage:
    """One page of the outbox, newest first."""

    rows: pd.DataFrame
    total: int
    page: int
    pages: int


OUTBOX_COLUMNS = ["id", "created", "channel", "recipient", "subject", "status", "attempts",
                  "error", "next try", "sent", "body preview"]


def list_outbox(
    session: Session,
    *,
    practice_id: int,
    status: str | None = None,
    page: int = 1,
    page_size: int = 25,
) -> OutboxPage:
    """The practice's messages, newest first, paged in SQL; bodies show the PIN placeholder."""
    conditions = [OutboxMessage.practice_id == practice_id]
    if status:
        conditions.append(OutboxMessage.status == status)
    total = session.exec(select(func.count()).select_from(OutboxMessage).where(*conditions)).one()
    pages = max(1, -(-total // page_size))
    page = min(max(page, 1), pages)
    rows = session.exec(
        select(
            OutboxMessage.id, OutboxMessage.created_at, OutboxMessage.channel,
            OutboxMessage.recipient, OutboxMessage.subject, OutboxMessage.status,
            OutboxMessage.attempts, OutboxMessage.last_error, OutboxMessage.next_attempt_at,
            OutboxMessage.sent_at, func.substr(OutboxMessage.body_text, 1, PREVIEW_CHARS),
        )
        .where(*conditions)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=OUTBOX_COLUMNS)
    return OutboxPage(rows=frame, total=total, page=page, pages=pages)


def count_outbox(session: Session, *, practice_id: int) -> dict[str, int]:
    """Messages per status for the practice."""
    rows = session.exec(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.practice_id == practice_id)
        .group_by(OutboxMessage.status)
    ).all()
    counts = {status.value: 0 for status in OutboxStatus}
    counts.update({status: count for status, count in rows})
    return counts


def resend_message(
    session: Session, *, practice_id: int, message_id: int, actor: str,
    senders: Senders | None = None, now: dt.datetime | None = None,
) -> int:
    """Queue a message again: a held or failed one is retried as it is; a sent one is copied.
    Returns the id of the message to deliver."""
    senders = senders or senders_from_settings()
    now = now or utcnow()
    message = session.exec(
        select(OutboxMessage).where(OutboxMessage.id == message_id,
                                    OutboxMessage.practice_id == practice_id)
    ).first()
    if message is None:
        raise NotFound(f"Message {message_id} is not in this practice's outbox.")
    carries_pin = PIN_PLACEHOLDER in message.body_text
    if carries_pin and not message.sealed_secret:
        raise Conflict(
            "This message carried a PIN that is no longer kept (it was sent or replaced). "
            "Issue a new PIN from Register Patient instead."
        )
    ready = senders.ready(message.channel)
    status = OutboxStatus.pending if ready else OutboxStatus.held
    patient_id = session.exec(
        select(Enrollment.patient_id).where(Enrollment.id == message.enrollment_id)
    ).first() if message.enrollment_id else None
    if message.status == OutboxStatus.sent:
        copy = OutboxMessage(
            practice_id=practice_id, enrollment_id=message.enrollment_id,
            channel=message.channel, recipient=message.recipient, subject=message.subject,
            body_text=message.body_text, body_html=message.body_html, status=status,
            next_attempt_at=now if ready else None, created_at=now,
        )
        session.add(copy)
        session.flush()
        target = copy.id
    else:
        message.status = status
        message.attempts = 0
        message.next_attempt_at = now if ready else None
        session.add(message)
        session.flush()
        target = message.id
    record_event(session, actor=actor, action="message_requeued", practice_id=practice_id,
                 patient_id=patient_id, message_id=message_id, queued_id=target,
                 status=status.value)
    return target


# --- the wording of delivery (Register and the Outbox page) -----------------------------------

CHANNEL_LABELS: dict[str, str] = {
    Channel.email: "Email",
    Channel.sms_gateway: "Text via carrier gateway",
    Channel.sms_api: "Text via SMS service",
}

STATUS_LABELS: dict[str, str] = {
    OutboxStatus.held: "Held",
    OutboxStatus.pending: "Pending",
    OutboxStatus.sent: "Sent",
    OutboxStatus.failed: "Failed",
}


def channel_label(channel: str) -> str:
    """A message's channel in words."""
    return CHANNEL_LABELS.get(channel, str(channel).replace("_", " ").capitalize())


def status_label(status: str) -> str:
    """A message's status in words."""
    return STATUS_LABELS.get(status, str(status).replace("_", " ").capitalize())


def describe_delivery(report: DeliveryReport | None, count: int) -> str:
    """What became of `count` messages sent right after their commit (None: the run failed)."""
    if report is None:
        return ("The messages are saved in the outbox and will be sent by the next "
                "send-outbox run.")
    if report.sent == count:
        return "Sent."
    if report.sent == 0 and report.retrying == 0 and report.failed == 0:
        return ("Waiting in the outbox: no mail server is configured yet. An administrator "
                "can see it on the Outbox page; it goes out once SMTP is set up.")
    # The mail server's own words stay on the admin's Outbox page, not on the front desk's.
    return (f"{report.sent} of {count} sent; the rest could not be sent yet. They "
            "stay in the outbox and are retried automatically; an administrator can see why "
            "on the Outbox page.")


def describe_resend(report: DeliveryReport, message_id: int) -> str:
    """What became of one message the admin queued again (the Outbox page's Resend)."""
    if report.sent:
        return f"Message {message_id} was sent again."
    if report.errors:
        return f"Message {message_id} is queued again but could not be sent yet: {report.errors[0]}"
    return (f"Message {message_id} is queued again; it is held until a mail server is "
            "configured.")


def describe_run(report: DeliveryReport) -> str:
    """One line for a send run (the Outbox page's Send due messages now, manage.py send-outbox)."""
    return f"Sent {report.sent}; will retry {report.retrying}; failed {report.failed}."
