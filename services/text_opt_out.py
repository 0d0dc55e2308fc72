"""Texts a number may still receive: the opt-out (STOP) list, and the caps of at most one
text per number a day and three a week from the app (rolling 24 hours and 7 days)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import Session, select

from models import TextLog, TextOptOut, utcnow
from services.audit import record_event
from services.errors import NotFound
from services.settings import get_settings
from services.validation import format_phone, normalize_phone

TEXTS_PER_DAY = 1
TEXTS_PER_WEEK = 3
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)
SOURCES = {"reply": "Replied STOP", "staff": "Asked the practice", "cli": "Recorded by an operator"}
FIELD = "Cell phone number"


@dataclass(frozen=True)
class OptOut:
    """One number on the opt-out list, as an admin sees it."""

    phone: str  # E.164
    shown_as: str  # (617) 555-0123
    opted_out_at: dt.datetime
    source: str  # in words
    recorded_by: str
    note: str


def _phone(value: str | None) -> str:
    return normalize_phone(value, region=get_settings().phone_region, field=FIELD)


def _public(row: TextOptOut) -> OptOut:
    region = get_settings().phone_region
    return OptOut(phone=row.phone, shown_as=format_phone(row.phone, region=region),
                  opted_out_at=row.opted_out_at, source=SOURCES.get(row.source, row.source),
                  recorded_by=row.recorded_by, note=row.note)


def add_opt_out(session: Session, *, phone: str, actor: str, source: str = "staff",
                note: str = "", now: dt.datetime | None = None) -> OptOut:
    """Put a number on the opt-out list (again: no change); no text goes to it afterwards."""
    number = _phone(phone)
    if source not in SOURCES:
        source = "staff"
    row = session.exec(select(TextOptOut).where(TextOptOut.phone == number)).first()
    if row is None:
        row = TextOptOut(phone=number, opted_out_at=now or utcnow(), source=source,
                         recorded_by=actor[:100], note=(note or "").strip()[:200])
        session.add(row)
        record_event(session, actor=actor, action="text_opt_out_added",
                     phone=format_phone(number), source=SOURCES[source])
        session.flush()
    return _public(row)


def remove_opt_out(session: Session, *, phone: str, actor: str) -> None:
    """Take a number off the list (the parent texted START or asked the practice)."""
    number = _phone(phone)
    row = session.exec(select(TextOptOut).where(TextOptOut.phone == number)).first()
    if row is None:
        raise NotFound(f"{format_phone(number)} is not on the text opt-out list.", field=FIELD)
    session.delete(row)
    record_event(session, actor=actor, action="text_opt_out_removed", phone=format_phone(number))


def list_opt_outs(session: Session, *, limit: int = 500) -> list[OptOut]:
    """The opt-out list, newest first."""
    rows = session.exec(
        select(TextOptOut).order_by(TextOptOut.opted_out_at.desc(), TextOptOut.id.desc())
        .limit(limit)
    ).all()
    return [_public(row) for row in rows]


def is_opted_out(session: Session, *, phone: str) -> bool:
    """True when `phone` (E.164) is on the opt-out list."""
    return session.exec(select(TextOptOut.id).where(TextOptOut.phone == phone)).first() is not None


def texts_since(session: Session, *, phone: str, since: dt.datetime) -> int:
    """How many texts the app queued to `phone` since `since`."""
    return session.exec(
        select(func.count()).select_from(TextLog)
        .where(TextLog.phone == phone, TextLog.queued_at > since)
    ).one()


def text_refusal(session: Session, *, phone: str, now: dt.datetime | None = None) -> str | None:
    """Why no text may go to `phone` (E.164) now, in words; None when one may."""
    now = now or utcnow()
    shown = format_phone(phone, region=get_settings().phone_region)
    if is_opted_out(session, phone=phone):
        return f"{shown} opted out of texts (replied STOP), so no text is sent to it."
    if texts_since(session, phone=phone, since=now - DAY) >= TEXTS_PER_DAY:
        return (f"{shown} already received a text from the portal in the last 24 hours "
                f"(at most {TEXTS_PER_DAY} a day), so no text is sent now.")
    if texts_since(session, phone=phone, since=now - WEEK) >= TEXTS_PER_WEEK:
        return (f"{shown} already received {TEXTS_PER_WEEK} texts from the portal in the last "
                "7 days (the weekly limit), so no text is sent now.")
    return None


def record_text(session: Session, *, phone: str, practice_id: int,
                outbox_message_id: int | None = None, now: dt.datetime | None = None) -> None:
    """Count a text queued to `phone` against its caps (in the caller's transaction)."""
    session.add(TextLog(phone=phone, practice_id=practice_id,
                        outbox_message_id=outbox_message_id, queued_at=now or utcnow()))
