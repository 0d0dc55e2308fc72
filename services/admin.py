"""Administration: staff users, practice settings, holidays, locations and providers.

Every function acts for an enabled administrator (`actor_id`, checked against the database,
never trusted from the page) inside a practice that administrator belongs to, and records an
audit event for every change it makes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import Session, select

from models import (
    Holiday,
    Location,
    Practice,
    Provider,
    Role,
    StaffPractice,
    StaffUser,
    utcnow,
)
from services.audit import record_event
from services.auth import (
    PracticeOption,
    StaffUserPublic,
    create_user,
    hash_password,
    staff_user_view,
    validate_staff_password,
)
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from services.practices import NamedRow, PracticeInfo, get_practice
from services.validation import format_phone, normalize_email, normalize_phone, validate_timezone

ROLE_LABELS = {Role.admin: "Administrator", Role.supervisor: "Supervisor", Role.staff: "Staff"}
MAX_NAME = 200


@dataclass(frozen=True)
class StaffUserRow:
    """A staff user as the Staff Users page lists them."""

    id: int
    username: str
    name: str
    email: str
    role: str
    disabled: bool
    locked: bool
    failed_logins: int
    practice_ids: tuple[int, ...]
    practices: tuple[str, ...]


@dataclass(frozen=True)
class StaffDirectory:
    """The users of one practice and the practices the acting admin may hand out."""

    users: list[StaffUserRow]
    practices: list[PracticeOption]


@dataclass(frozen=True)
class HolidayRow:
    """A day the practice is closed."""

    id: int
    day: dt.date
    name: str


@dataclass(frozen=True)
class PracticeSettings:
    """Everything the Practice Settings page shows for one practice."""

    practice: PracticeInfo
    holidays: list[HolidayRow]
    locations: list[NamedRow]
    providers: list[NamedRow]


# --- who may act ---------------------------------------------------------------------------------


def _acting_admin(session: Session, *, actor_id: int, practice_id: int) -> StaffUser:
    """The enabled administrator `actor_id`, who must belong to `practice_id`."""
    actor = session.get(StaffUser, actor_id)
    if actor is None or actor.disabled or actor.role != Role.admin:
        raise PermissionDenied("Only an administrator can change this.")
    if session.get(StaffPractice, (actor_id, practice_id)) is None:
        raise PermissionDenied("That practice is not one of yours: choose it in the sidebar.")
    return actor


def _practice_ids_of(session: Session, user_id: int) -> set[int]:
    return set(
        session.exec(
            select(StaffPractice.practice_id).where(StaffPractice.staff_user_id == user_id)
        ).all()
    )


def _member_of_practice(session: Session, *, user_id: int, practice_id: int) -> StaffUser:
    """The staff user `user_id` if they belong to `practice_id` (practice isolation)."""
    user = session.get(StaffUser, user_id)
    if user is None or session.get(StaffPractice, (user_id, practice_id)) is None:
        raise NotFound("That staff user does not exist in this practice.")
    return user


def _refuse_beyond_reach(session: Session, actor: StaffUser, user: StaffUser, what: str,
                         field: str) -> None:
    """Refuse install-wide changes (role, password, disabling) to a user who also works in
    practices the acting admin does not administer: that would reach into those practices."""
    if _practice_ids_of(session, user.id) - _practice_ids_of(session, actor.id):
        raise PermissionDenied(
            f"{user.username} also works in practices you do not administer: ask an "
            f"administrator of all their practices to {what}.",
            field=field,
        )


def _ensure_another_admin_remains(session: Session, user: StaffUser) -> None:
    """Refuse to take away the last enabled administrator of the whole install."""
    # Lock the enabled admins' rows (PostgreSQL) so two admins demoting each other at once
    # cannot both pass; SQLite's BEGIN IMMEDIATE already serialises writers.
    admin_ids = session.exec(
        select(StaffUser.id)
        .where(StaffUser.role == Role.admin, StaffUser.disabled == False)  # noqa: E712
        .with_for_update()
    ).all()
    if not set(admin_ids) - {user.id}:
        raise Conflict(
            f"{user.username} is the last enabled administrator: make another user an "
            "administrator first.",
            field="role",
        )


def _refuse_self(actor: StaffUser, user: StaffUser, what: str, field: str) -> None:
    if actor.id == user.id:
        raise PermissionDenied(
            f"You cannot {what} yourself: ask another administrator.", field=field
        )


# --- staff users ---------------------------------------------------------------------------------


def get_staff_directory(session: Session, *, actor_id: int, practice_id: int) -> StaffDirectory:
    """The staff users of this practice and the practices the admin may assign."""
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    users = session.exec(
        select(StaffUser)
        .join(StaffPractice, StaffPractice.staff_user_id == StaffUser.id)
        .where(StaffPractice.practice_id == practice_id)
        .order_by(StaffUser.disabled, StaffUser.name, StaffUser.username)
    ).all()
    user_ids = [user.id for user in users]
    memberships: dict[int, list[tuple[int, str]]] = {user_id: [] for user_id in user_ids}
    if user_ids:
        rows = session.exec(
            select(StaffPractice.staff_user_id, Practice.id, Practice.name)
            .join(Practice, Practice.id == StaffPractice.practice_id)
            .where(StaffPractice.staff_user_id.in_(user_ids))
            .order_by(Practice.name)
        ).all()
        for user_id, pid, name in rows:
            memberships[user_id].append((pid, name))
    now = utcnow()
    listed = [
        StaffUserRow(
            id=user.id,
            username=user.username,
            name=user.name,
            email=user.email,
            role=user.role,
            disabled=user.disabled,
            locked=user.locked_until is not None and user.locked_until > now,
            failed_logins=user.failed_logins,
            practice_ids=tuple(pid for pid, _ in memberships[user.id]),
            practices=tuple(name for _, name in memberships[user.id]),
        )
        for user in users
    ]
    practices = session.exec(
        select(Practice)
        .join(StaffPractice, StaffPractice.practice_id == Practice.id)
        .where(StaffPractice.staff_user_id == actor.id)
        .order_by(Practice.name)
    ).all()
    options = [PracticeOption(id=p.id, name=p.name, timezone=p.timezone) for p in practices]
    return StaffDirectory(users=listed, practices=options)


def _allowed_practice_ids(
    session: Session, actor: StaffUser, practice_ids: list[int], *, field: str = "Practices"
) -> set[int]:
    wanted = set(practice_ids or [])
    foreign = wanted - _practice_ids_of(session, actor.id)
    if foreign:
        raise PermissionDenied(
            "Practices: you can only give access to practices you belong to.", field=field
        )
    return wanted


def add_staff_user(
    session: Session,
    *,
    actor_id: int,
    practice_id: int,
    username: str,
    name: str,
    email: str,
    role: str,
    password: str,
    practice_ids: list[int],
) -> StaffUserPublic:
    """Create a staff user in some of the acting admin's practices."""
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    # Checked here with the form's own labels; create_user checks the rest.
    if not " ".join((name or "").split()):
        raise InvalidInput("Full name is empty: give the person's full name.",
                           field="Full name")
    email = normalize_email(email, field="Email")
    wanted = _allowed_practice_ids(session, actor, practice_ids)
    if not wanted:
        raise InvalidInput(
            "Practices is empty: choose at least one practice the user works in.",
            field="Practices",
        )
    user = create_user(
        session, username=username, name=name, email=email, role=role, password=password,
        practice_ids=sorted(wanted), actor=actor.username,
    )
    for pid in sorted(wanted):
        record_event(
            session, actor=actor.username, action="user_practice_added", practice_id=pid,
            username=user.username, role=user.role,
        )
    return user


def update_staff_user(
    session: Session,
    *,
    actor_id: int,
    practice_id: int,
    user_id: int,
    role: str,
    practice_ids: list[int],
) -> StaffUserPublic:
    """Set a user's role and which of the acting admin's practices they work in.

    Memberships in practices the acting admin does not belong to are left as they are.
    """
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    user = _member_of_practice(session, user_id=user_id, practice_id=practice_id)
    if role not in {r.value for r in Role}:
        raise InvalidInput(
            f"Role {role!r} is unknown: choose Administrator, Supervisor or Staff.", field="Role"
        )
    wanted = _allowed_practice_ids(session, actor, practice_ids)
    mine = _practice_ids_of(session, actor.id)
    current = _practice_ids_of(session, user.id)
    to_remove = (current & mine) - wanted
    to_add = wanted - current
    if not wanted and not (current - mine):
        raise InvalidInput(
            "Practices is empty: choose at least one practice, or disable the user instead.",
            field="Practices",
        )
    if user.role == Role.admin and role != Role.admin and not user.disabled:
        _ensure_another_admin_remains(session, user)
        _refuse_self(actor, user, "demote", "Role")
    if to_remove and actor.id == user.id:
        raise PermissionDenied(
            "You cannot remove yourself from a practice: ask another administrator.",
            field="Practices",
        )
    if role != user.role:
        _refuse_beyond_reach(session, actor, user, "change their role", "Role")
        record_event(
            session, actor=actor.username, action="user_role_changed", practice_id=practice_id,
            username=user.username, old=user.role, new=role,
        )
        user.role = role
        session.add(user)
    for pid in sorted(to_add):
        session.add(StaffPractice(staff_user_id=user.id, practice_id=pid))
        record_event(
            session, actor=actor.username, action="user_practice_added", practice_id=pid,
            username=user.username,
        )
    for pid in sorted(to_remove):
        session.delete(session.get(StaffPractice, (user.id, pid)))
        record_event(
            session, actor=actor.username, action="user_practice_removed", practice_id=pid,
            username=user.username,
        )
    session.flush()
    return staff_user_view(user)


def set_user_disabled(
    session: Session, *, actor_id: int, practice_id: int, user_id: int, disabled: bool
) -> StaffUserPublic:
    """Disable a staff user (their sign-in stops working at once) or enable them again."""
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    user = _member_of_practice(session, user_id=user_id, practice_id=practice_id)
    _refuse_beyond_reach(session, actor, user, "disable or enable them", "Disabled")
    if user.disabled == disabled:
        return staff_user_view(user)
    if disabled:
        if user.role == Role.admin:
            _ensure_another_admin_remains(session, user)
        _refuse_self(actor, user, "disable", "disabled")
    user.disabled = disabled
    session.add(user)
    record_event(
        session, actor=actor.username, action="user_disabled" if disabled else "user_enabled",
        practice_id=practice_id, username=user.username,
    )
    session.flush()
    return staff_user_view(user)


def reset_user_password(
    session: Session, *, actor_id: int, practice_id: int, user_id: int, password: str
) -> StaffUserPublic:
    """Give a staff user a new password (and lift a login lock)."""
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    user = _member_of_practice(session, user_id=user_id, practice_id=practice_id)
    _refuse_beyond_reach(session, actor, user, "reset their password", "Password")
    try:
        validate_staff_password(password, username=user.username)
    except InvalidInput as error:
        raise InvalidInput(f"New password: {error.message}", field="New password") from None
    user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    record_event(
        session, actor=actor.username, action="user_password_reset", practice_id=practice_id,
        username=user.username,
    )
    session.flush()
    return staff_user_view(user)


def unlock_user(
    session: Session, *, actor_id: int, practice_id: int, user_id: int
) -> StaffUserPublic:
    """Lift a staff user's lock after too many failed logins."""
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    user = _member_of_practice(session, user_id=user_id, practice_id=practice_id)
    user.failed_logins = 0
    user.locked_until = None
    session.add(user)
    record_event(
        session, actor=actor.username, action="user_unlocked", practice_id=practice_id,
        username=user.username,
    )
    session.flush()
    return staff_user_view(user)


# --- practice settings ---------------------------------------------------------------------------


def _holidays(session: Session, practice_id: int) -> list[HolidayRow]:
    rows = session.exec(
        select(Holiday).where(Holiday.practice_id == practice_id).order_by(Holiday.day)
    ).all()
    return [HolidayRow(id=row.id, day=row.day, name=row.name) for row in rows]


def _named(session: Session, table, practice_id: int) -> list[NamedRow]:
    rows = session.exec(
        select(table.id, table.name).where(table.practice_id == practice_id).order_by(table.name)
    ).all()
    return [NamedRow(id=row[0], name=row[1]) for row in rows]


def get_practice_settings(
    session: Session, *, actor_id: int, practice_id: int
) -> PracticeSettings:
    """A practice's settings, holidays, locations and providers."""
    _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    return PracticeSettings(
        practice=get_practice(session, practice_id=practice_id),
        holidays=_holidays(session, practice_id),
        locations=_named(session, Location, practice_id),
        providers=_named(session, Provider, practice_id),
    )


def _clean_name(value: str | None, field: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise InvalidInput(f"{field} is empty: enter a name.", field=field)
    if len(value) > MAX_NAME:
        raise InvalidInput(f"{field} is too long: use at most {MAX_NAME} characters.",
                           field=field)
    return value


def _portal_url(value: str | None) -> str:
    value = (value or "").strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc or parts.query or parts.fragment:
        raise InvalidInput(
            f"Portal URL {value!r} is not a web address: enter the address parents open, "
            "such as https://portal.example.org.",
            field="Portal URL",
        )
    return value


def _whole_number(value, *, field: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field} must be a whole number.", field=field) from None
    if not low <= number <= high:
        raise InvalidInput(f"{field} must be between {low} and {high}.", field=field)
    return number


def update_practice(
    session: Session,
    *,
    actor_id: int,
    practice_id: int,
    name: str,
    timezone: str,
    portal_url: str,
    pin_lifetime_days: int,
    minor_age_limit: int,
    phone: str = "",
    email: str = "",
    address: str = "",
    phone_region: str = "US",
) -> PracticeInfo:
    """Change a practice's settings; the audit event lists each changed field."""
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    practice = session.get(Practice, practice_id)
    new = {
        "name": _clean_name(name, "Practice name"),
        "timezone": validate_timezone(timezone),
        "portal_url": _portal_url(portal_url),
        "pin_lifetime_days": _whole_number(
            pin_lifetime_days, field="PIN lifetime (days)", low=1, high=365
        ),
        "minor_age_limit": _whole_number(
            minor_age_limit, field="Minor age limit", low=1, high=30
        ),
        "phone": (
            format_phone(normalize_phone(phone, region=phone_region, field="Phone"),
                         region=phone_region)
            if (phone or "").strip() else ""
        ),
        "email": normalize_email(email, field="Email") if (email or "").strip() else "",
        "address": " ".join((address or "").split()),
    }
    if len(new["address"]) > 500:
        raise InvalidInput("Address is too long: use at most 500 characters.", field="Address")
    if new["name"] != practice.name and session.exec(
        select(Practice.id).where(Practice.name == new["name"], Practice.id != practice_id)
    ).first():
        raise Conflict(f"Practice name {new['name']!r} is taken by another practice.",
                       field="Practice name")
    changes = {
        field: [getattr(practice, field), value]
        for field, value in new.items()
        if getattr(practice, field) != value
    }
    if changes:
        for field, (_old, value) in changes.items():
            setattr(practice, field, value)
        session.add(practice)
        record_event(
            session, actor=actor.username, action="practice_updated", practice_id=practice_id,
            changes=changes,
        )
        session.flush()
    return get_practice(session, practice_id=practice_id)


def add_holiday(
    session: Session, *, actor_id: int, practice_id: int, day: dt.date, name: str = ""
) -> HolidayRow:
    """Mark a day on which the practice is closed."""
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    if not isinstance(day, dt.date):
        raise InvalidInput("Date is empty: pick the day the practice is closed.", field="Date")
    name = " ".join((name or "").split())
    if len(name) > 120:
        raise InvalidInput("Holiday name is too long: use at most 120 characters.",
                           field="Holiday name")
    if session.exec(
        select(Holiday.id).where(Holiday.practice_id == practice_id, Holiday.day == day)
    ).first():
        raise Conflict(f"Date {day:%Y-%m-%d} is already a holiday.", field="Date")
    holiday = Holiday(practice_id=practice_id, day=day, name=name)
    session.add(holiday)
    session.flush()
    record_event(
        session, actor=actor.username, action="holiday_added", practice_id=practice_id,
        day=day.isoformat(), name=name,
    )
    return HolidayRow(id=holiday.id, day=holiday.day, name=holiday.name)


def remove_holiday(session: Session, *, actor_id: int, practice_id: int, holiday_id: int) -> None:
    """Remove a holiday (the day counts as a business day again)."""
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    holiday = session.get(Holiday, holiday_id)
    if holiday is None or holiday.practice_id != practice_id:
        raise NotFound("That holiday does not exist in this practice.", field="Holiday")
    record_event(
        session, actor=actor.username, action="holiday_removed", practice_id=practice_id,
        day=holiday.day.isoformat(), name=holiday.name,
    )
    session.delete(holiday)
    session.flush()


def _add_named(session: Session, table, *, actor_id: int, practice_id: int, name: str,
               label: str) -> NamedRow:
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    name = _clean_name(name, f"{label} name")
    _refuse_duplicate(session, table, practice_id=practice_id, name=name, label=label)
    row = table(practice_id=practice_id, name=name)
    session.add(row)
    session.flush()
    record_event(
        session, actor=actor.username, action=f"{table.__tablename__}_added",
        practice_id=practice_id, name=name, id=row.id,
    )
    return NamedRow(id=row.id, name=row.name)


def _refuse_duplicate(session: Session, table, *, practice_id: int, name: str, label: str,
                      except_id: int | None = None) -> None:
    query = select(table.id).where(
        table.practice_id == practice_id, func.lower(table.name) == name.lower()
    )
    if except_id is not None:
        query = query.where(table.id != except_id)
    if session.exec(query).first():
        raise Conflict(f"{label} name {name!r} is already in use in this practice.",
                       field=f"{label} name")


def _rename_named(session: Session, table, *, actor_id: int, practice_id: int, row_id: int,
                  name: str, label: str) -> NamedRow:
    actor = _acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    row = session.get(table, row_id)
    if row is None or row.practice_id != practice_id:
        raise NotFound(f"That {label.lower()} does not exist in this practice.", field=label)
    name = _clean_name(name, f"New {label.lower()} name")
    if name == row.name:
        return NamedRow(id=row.id, name=row.name)
    _refuse_duplicate(session, table, practice_id=practice_id, name=name, label=label,
                      except_id=row.id)
    record_event(
        session, actor=actor.username, action=f"{table.__tablename__}_renamed",
        practice_id=practice_id, id=row.id, old=row.name, new=name,
    )
    row.name = name
    session.add(row)
    session.flush()
    return NamedRow(id=row.id, name=row.name)


def add_location(session: Session, *, actor_id: int, practice_id: int, name: str) -> NamedRow:
    """Add a location (a site where the practice sees patients)."""
    return _add_named(session, Location, actor_id=actor_id, practice_id=practice_id, name=name,
                      label="Location")


def rename_location(
    session: Session, *, actor_id: int, practice_id: int, location_id: int, name: str
) -> NamedRow:
    """Rename a location; its appointments follow."""
    return _rename_named(session, Location, actor_id=actor_id, practice_id=practice_id,
                         row_id=location_id, name=name, label="Location")


def add_provider(session: Session, *, actor_id: int, practice_id: int, name: str) -> NamedRow:
    """Add a provider (a clinician appointments are booked with)."""
    return _add_named(session, Provider, actor_id=actor_id, practice_id=practice_id, name=name,
                      label="Provider")


def rename_provider(
    session: Session, *, actor_id: int, practice_id: int, provider_id: int, name: str
) -> NamedRow:
    """Rename a provider; their appointments follow."""
    return _rename_named(session, Provider, actor_id=actor_id, practice_id=practice_id,
                         row_id=provider_id, name=name, label="Provider")
