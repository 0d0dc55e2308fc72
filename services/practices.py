"""Practices and the lookups every page needs inside one practice."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from models import Location, Practice, Provider
from services.audit import record_event
from services.errors import Conflict, InvalidInput, NotFound
from services.validation import validate_timezone


@dataclass(frozen=True)
class PracticeInfo:
    """A practice's settings as pages and letters use them."""

    id: int
    name: str
    timezone: str
    portal_url: str
    pin_lifetime_days: int
    minor_age_limit: int
    phone: str
    email: str
    address: str


@dataclass(frozen=True)
class NamedRow:
    """A location or provider as a drop-down shows it."""

    id: int
    name: str


def _info(practice: Practice) -> PracticeInfo:
    return PracticeInfo(
        id=practice.id,
        name=practice.name,
        timezone=practice.timezone,
        portal_url=practice.portal_url,
        pin_lifetime_days=practice.pin_lifetime_days,
        minor_age_limit=practice.minor_age_limit,
        phone=practice.phone,
        email=practice.email,
        address=practice.address,
    )


def create_practice(
    session: Session, *, name: str, timezone: str, actor: str, portal_url: str | None = None
) -> PracticeInfo:
    """Create a practice with a unique name and a valid IANA timezone."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Practice name is empty.", field="name")
    timezone = validate_timezone(timezone)
    if session.exec(select(Practice).where(Practice.name == name)).first():
        raise Conflict(f"Practice {name!r} already exists.", field="name")
    practice = Practice(name=name, timezone=timezone)
    if portal_url:
        practice.portal_url = portal_url.rstrip("/")
    session.add(practice)
    session.flush()
    record_event(
        session, actor=actor, action="practice_created", practice_id=practice.id, name=name
    )
    return _info(practice)


def find_practice(session: Session, *, name: str) -> PracticeInfo | None:
    """The practice called `name`, or None."""
    practice = session.exec(select(Practice).where(Practice.name == name)).first()
    return _info(practice) if practice else None


def get_practice(session: Session, *, practice_id: int) -> PracticeInfo:
    """The practice with this id, or NotFound."""
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound("That practice does not exist.")
    return _info(practice)


def list_locations(session: Session, *, practice_id: int) -> list[NamedRow]:
    """The practice's locations by name."""
    rows = session.exec(
        select(Location.id, Location.name)
        .where(Location.practice_id == practice_id)
        .order_by(Location.name)
    ).all()
    return [NamedRow(id=row[0], name=row[1]) for row in rows]


def list_providers(session: Session, *, practice_id: int) -> list[NamedRow]:
    """The practice's providers by name."""
    rows = session.exec(
        select(Provider.id, Provider.name)
        .where(Provider.practice_id == practice_id)
        .order_by(Provider.name)
    ).all()
    return [NamedRow(id=row[0], name=row[1]) for row in rows]
