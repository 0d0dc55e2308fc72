"""Practices and the lookups every page needs inside one practice."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from sqlmodel import Session, select

from models import Location, Practice, Provider
from models.public import NamedRow, PracticePublic
from services.audit import record_event
from services.errors import Conflict, InvalidInput, NotFound, quoted
from services.validation import validate_timezone

# The old name, for code written before the read schemas moved to models/public.py.


def create_practice(
    session: Session, *, name: str, timezone: str, actor: str, portal_url: str | None = None
) -> PracticePublic:
    """Create a practice with a unique name and a valid IANA timezone."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Practice name is empty.", field="name")
    timezone = validate_timezone(timezone)
    if session.exec(select(Practice).where(Practice.name == name)).first():
        raise Conflict(f"Practice {quoted(name)} already exists.", field="name")
    practice = Practice(name=name, timezone=timezone)
    if portal_url:
        practice.portal_url = normalize_portal_url(portal_url)
    session.add(practice)
    session.flush()
    record_event(
        session, actor=actor, action="practice_created", practice_id=practice.id, name=name
    )
    return PracticePublic.model_validate(practice)


def find_practice(session: Session, *, name: str) -> PracticePublic | None:
    """The practice called `name`, or None."""
    practice = session.exec(select(Practice).where(Practice.name == name)).first()
    return PracticePublic.model_validate(practice) if practice else None


def get_practice(session: Session, *, practice_id: int) -> PracticePublic:
    """The practice with this id, or NotFound."""
    practice = session.get(Practice, practice_id)
    if practice is None:
        raise NotFound("That practice does not exist.")
    return PracticePublic.model_validate(practice)


def _names(session: Session, table: type[Location] | type[Provider], practice_id: int
           ) -> list[NamedRow]:
    rows = session.exec(
        select(table.id, table.name).where(table.practice_id == practice_id).order_by(table.name)
    ).all()
    return [NamedRow.model_validate(row) for row in rows]


def list_locations(session: Session, *, practice_id: int) -> list[NamedRow]:
    """The practice's locations by name."""
    return _names(session, Location, practice_id)


def list_providers(session: Session, *, practice_id: int) -> list[NamedRow]:
    """The practice's providers by name."""
    return _names(session, Provider, practice_id)


def normalize_portal_url(value: str | None, *, field: str = "Portal URL") -> str:
    """The app's public address without a trailing slash, or InvalidInput naming `field`."""
    value = (value or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise InvalidInput(
            f"{field} {quoted(value)} is not a web address: enter the address parents open, "
            "such as https://portal.example.org.",
            field=field,
        )
    return value


def is_loopback_url(url: str | None) -> bool:
    """True when the address only works on the server itself (localhost, 127.0.0.1, ::1)."""
    host = (urlsplit(url or "").hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost") or not host:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def practices_on_loopback(session: Session, *, practice_ids: list[int]) -> list[str]:
    """The names of those practices whose links would point at the server itself."""
    if not practice_ids:
        return []
    rows = session.exec(select(Practice.name, Practice.portal_url)
                        .where(Practice.id.in_(practice_ids)).order_by(Practice.name)).all()
    return [name for name, url in rows if is_loopback_url(url)]
