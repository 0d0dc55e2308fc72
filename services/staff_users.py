"""Staff Users (the page of that name): the practice's staff directory; adding a user, changing
a role or practices, disabling, resetting a password, lifting a login lock, seeing and ending a
user's sessions; and the checks of who may act, which Practice Settings uses too.

A password reset, a role change, disabling and removing a membership end all of that user's
sessions: whatever they had open signs in again under the new rules.

Every change is made for an enabled administrator (`actor_id`, checked against the database,
never trusted from the page) inside a practice that administrator belongs to, and records an
audit event.
"""

from __future__ import annotations

from sqlmodel import Session, select

from models import Practice, Role, StaffPractice, StaffUser, utcnow
from models.public import StaffDirectory, StaffUserPublic
from services.audit import record_event
from services.auth import (
    create_user,
    hash_password,
    user_practices,
    validate_staff_password,
)
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied, quoted
from services.sessions import SessionInfo, active_sessions, revoke_all_for_user
from services.validation import normalize_email

ROLE_LABELS = {Role.admin: "Administrator", Role.supervisor: "Supervisor", Role.staff: "Staff"}


# --- who may act ---------------------------------------------------------------------------------


def acting_admin(session: Session, *, actor_id: int, practice_id: int) -> StaffUser:
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


def _actor_and_user(session: Session, *, actor_id: int, practice_id: int,
                    user_id: int) -> tuple[StaffUser, StaffUser]:
    """The acting administrator and the staff user they act on, both of `practice_id`."""
    actor = acting_admin(session, actor_id=actor_id, practice_id=practice_id)
    return actor, _member_of_practice(session, user_id=user_id, practice_id=practice_id)


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
    actor = acting_admin(session, actor_id=actor_id, practice_id=practice_id)
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
        StaffUserPublic.model_validate(user, update={
            "locked": user.locked_until is not None and user.locked_until > now,
            "practice_ids": tuple(pid for pid, _ in memberships[user.id]),
            "practices": tuple(name for _, name in memberships[user.id]),
        })
        for user in users
    ]
    return StaffDirectory(users=listed, practices=user_practices(session, user_id=actor.id))


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
    actor = acting_admin(session, actor_id=actor_id, practice_id=practice_id)
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
    actor, user = _actor_and_user(session, actor_id=actor_id, practice_id=practice_id,
                                  user_id=user_id)
    if role not in {r.value for r in Role}:
        raise InvalidInput(
            f"Role {quoted(role)} is unknown: choose Administrator, Supervisor or Staff.",
            field="Role")
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
        revoke_all_for_user(session, user_id=user.id, reason="role changed",
                            actor=actor.username)
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
    if to_remove:
        revoke_all_for_user(session, user_id=user.id, reason="removed from a practice",
                            actor=actor.username)
    session.flush()
    return StaffUserPublic.model_validate(user)


def _lift_lock(user: StaffUser) -> None:
    user.failed_logins = 0
    user.locked_until = None


def _saved(session: Session, actor: StaffUser, user: StaffUser, *, action: str,
           practice_id: int) -> StaffUserPublic:
    """Save a change to `user`, audited as `action` by `actor` in the practice."""
    session.add(user)
    record_event(session, actor=actor.username, action=action, practice_id=practice_id,
                 username=user.username)
    session.flush()
    return StaffUserPublic.model_validate(user)


def set_user_disabled(
    session: Session, *, actor_id: int, practice_id: int, user_id: int, disabled: bool
) -> StaffUserPublic:
    """Disable a staff user (their sign-in stops working at once) or enable them again."""
    actor, user = _actor_and_user(session, actor_id=actor_id, practice_id=practice_id,
                                  user_id=user_id)
    _refuse_beyond_reach(session, actor, user, "disable or enable them", "Disabled")
    if user.disabled == disabled:
        return StaffUserPublic.model_validate(user)
    if disabled:
        if user.role == Role.admin:
            _ensure_another_admin_remains(session, user)
        _refuse_self(actor, user, "disable", "disabled")
    user.disabled = disabled
    if disabled:
        revoke_all_for_user(session, user_id=user.id, reason="disabled", actor=actor.username)
    return _saved(session, actor, user, action="user_disabled" if disabled else "user_enabled",
                  practice_id=practice_id)


def reset_user_password(
    session: Session, *, actor_id: int, practice_id: int, user_id: int, password: str
) -> StaffUserPublic:
    """Give a staff user a new password (and lift a login lock)."""
    actor, user = _actor_and_user(session, actor_id=actor_id, practice_id=practice_id,
                                  user_id=user_id)
    _refuse_beyond_reach(session, actor, user, "reset their password", "Password")
    try:
        validate_staff_password(password, username=user.username)
    except InvalidInput as error:
        raise InvalidInput(f"New password: {error.message}", field="New password") from None
    user.password_hash = hash_password(password)
    _lift_lock(user)
    revoke_all_for_user(session, user_id=user.id, reason="password reset", actor=actor.username)
    return _saved(session, actor, user, action="user_password_reset", practice_id=practice_id)


def unlock_user(
    session: Session, *, actor_id: int, practice_id: int, user_id: int
) -> StaffUserPublic:
    """Lift a staff user's lock after too many failed logins."""
    actor, user = _actor_and_user(session, actor_id=actor_id, practice_id=practice_id,
                                  user_id=user_id)
    _lift_lock(user)
    return _saved(session, actor, user, action="user_unlocked", practice_id=practice_id)


def list_user_sessions(
    session: Session, *, actor_id: int, practice_id: int, user_id: int
) -> list[SessionInfo]:
    """The user's open sessions (when signed in, last activity, address), for an admin."""
    _actor_and_user(session, actor_id=actor_id, practice_id=practice_id, user_id=user_id)
    return active_sessions(session, user_id=user_id)


def end_user_sessions(
    session: Session, *, actor_id: int, practice_id: int, user_id: int
) -> int:
    """Sign a user out everywhere (their open tabs show the sign-in form); how many ended."""
    actor, user = _actor_and_user(session, actor_id=actor_id, practice_id=practice_id,
                                  user_id=user_id)
    _refuse_beyond_reach(session, actor, user, "end their sessions", "Sessions")
    return revoke_all_for_user(session, user_id=user.id, reason="ended by an administrator",
                               actor=actor.username)
