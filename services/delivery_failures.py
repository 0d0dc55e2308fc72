"""Failures back at the desk: a permanent delivery failure (an address refused, SMTP 5xx, an
SMS API error) marks the enrollment, with the reason in words for the Dashboard and Register."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import update
from sqlmodel import Session

from models import Enrollment, utcnow
from services.audit import record_event

_SMTP_CODE = re.compile(r"\b([45]\d\d)\b")


def failure_in_words(*, channel: str, recipient: str, error: str) -> str:
    """A staff-readable reason for a failed delivery, from the sender's error text."""
    text = error or ""
    lowered = text.casefold()
    if channel == "sms_api":
        if "http 400" in lowered or "http 404" in lowered or "invalid" in lowered:
            return f"The text service refused the number {recipient}: check the cell number."
        if "http 401" in lowered or "http 403" in lowered:
            return ("The text service refused the practice's login: ask the administrator to "
                    "check the SMS API settings.")
        return f"The text service could not deliver to {recipient}."
    what = "text (carrier gateway)" if channel == "sms_gateway" else "email"
    if "recipient refused" in lowered or "550" in text or "551" in text or "553" in text:
        return (f"The {what} was refused: the mail server says {recipient} does not exist. "
                "Check the address with the parent.")
    if "552" in text:
        return f"The {what} was refused: the mailbox of {recipient} is full."
    if "pin" in lowered and "no longer kept" in lowered:
        return "The message carried a PIN that is no longer kept: issue a new PIN."
    code = _SMTP_CODE.search(text)
    if code:
        return f"The {what} to {recipient} was refused by the mail server (code {code.group(1)})."
    return f"The {what} to {recipient} could not be delivered after several tries."


def mark_delivery_failed(session: Session, *, enrollment_id: int, practice_id: int,
                         patient_id: int | None, channel: str, recipient: str, error: str,
                         now: dt.datetime | None = None) -> str:
    """Mark the enrollment's delivery as failed (in the caller's transaction); the reason."""
    reason = failure_in_words(channel=channel, recipient=recipient, error=error)[:300]
    session.exec(
        update(Enrollment).where(Enrollment.id == enrollment_id)
        .values(delivery_failed_at=now or utcnow(), delivery_failure=reason)
        .execution_options(synchronize_session=False)
    )
    record_event(session, actor="system", action="delivery_failed", practice_id=practice_id,
                 patient_id=patient_id, enrollment_id=enrollment_id, channel=channel,
                 recipient=recipient, reason=reason)
    return reason


def clear_delivery_failure(session: Session, *, enrollment_id: int) -> None:
    """Forget the failure once the invitation was sent again (to a corrected address)."""
    session.exec(
        update(Enrollment).where(Enrollment.id == enrollment_id)
        .values(delivery_failed_at=None, delivery_failure=None)
        .execution_options(synchronize_session=False)
    )
