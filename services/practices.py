"""Practices and the lookups every page needs inside one practice."""

from __future__ import annotations

from sqlmodel import Session, select

from models import Location, Practice, Provider
from models.public import NamedRow, PracticePublic
from services.audit import record_event
from services.errors import Conflict, InvalidInput, NotFound
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
        raise Conflict(f"Practice {name!r} already exists.", field="name")
    practice = Practice(name=name, timezone=timezone)
    if portal_url:
        practice.portal_url = portal_url.rstrip("/")
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
