"""Staff accounts: password hashes and rules, credentials for the sign-in form, memberships.
The sign-in itself (throttles, sessions) is services/signin.py."""

from __future__ import annotations

import bcrypt
from sqlmodel import Session, func, select

from models import Practice, Role, StaffPractice, StaffUser
from models.public import PracticeOption, StaffUserPublic
from services.audit import record_event
from services.errors import Conflict, InvalidInput, NotFound, quoted
from services.passwords import check_password_rules

MIN_STAFF_PASSWORD = 10


def hash_password(password: str) -> str:
    """A salted bcrypt hash of `password`."""
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds=12)).decode()


def check_password(password: str, password_hash: str) -> bool:
    """True when `password` matches the bcrypt `password_hash`."""
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.encode("utf-8"))
    except ValueError:
        return False


def validate_staff_password(password: str, *, username: str = "") -> None:
    """Raise InvalidInput unless `password` is long enough and not the username."""
    if not password or not password.strip():
        raise InvalidInput(
            "Password is empty: choose one of at least 10 characters.", field="password"
        )
    if len(password) < MIN_STAFF_PASSWORD:
        raise InvalidInput(
            f"Password is too short: use at least {MIN_STAFF_PASSWORD} characters.",
            field="password",
        )
    if username and username.lower() in password.lower():
        raise InvalidInput("Password must not contain the username.", field="password")
    check_password_rules(password)


def count_users(session: Session) -> int:
    """How many staff users exist (0 means first-run setup)."""
    return session.exec(select(func.count()).select_from(StaffUser)).one()


def _practices_by_name(session: Session, names: list[str]) -> list[Practice]:
    found = []
    for name in names:
        practice = session.exec(select(Practice).where(Practice.name == name)).first()
        if practice is None:
            raise NotFound(
                f"Unknown practice {quoted(name)}: create it first with create-practice.")
        found.append(practice)
    return found


def create_user(
    session: Session,
    *,
    username: str,
    name: str,
    email: str,
    role: str,
    password: str,
    practice_names: list[str] | None = None,
    practice_ids: list[int] | None = None,
    actor: str,
) -> StaffUserPublic:
    """Create a staff user with a bcrypt hash and practice memberships."""
    from services.validation import normalize_email

    username = (username or "").strip().lower()
    if not username or not username.replace(".", "").replace("_", "").replace("-", "").isalnum():
        raise InvalidInput(
            "Username must be letters, digits, dots, dashes or underscores.", field="username"
        )
    if not (name or "").strip():
        raise InvalidInput("Name is empty: give the person's full name.", field="name")
    if role not in {r.value for r in Role}:
        raise InvalidInput(
            f"Unknown role {quoted(role)}: choose admin, staff or supervisor.", field="role"
        )
    email = normalize_email(email, field="email")
    validate_staff_password(password, username=username)
    if session.exec(select(StaffUser).where(StaffUser.username == username)).first():
        raise Conflict(f"User {quoted(username)} already exists.", field="username")
    practices = _practices_by_name(session, practice_names or [])
    for practice_id in practice_ids or []:
        practice = session.get(Practice, practice_id)
        if practice is None:
            raise NotFound(f"Unknown practice id {practice_id}.")
        practices.append(practice)
    user = StaffUser(
        username=username,
        name=name.strip(),
        email=email,
        role=role,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    for practice in {p.id: p for p in practices}.values():
        session.add(StaffPractice(staff_user_id=user.id, practice_id=practice.id))
    record_event(session, actor=actor, action="user_created", username=username, role=role)
    return StaffUserPublic.model_validate(user)


def add_membership(session: Session, *, user_id: int, practice_id: int) -> None:
    """Let a staff user work in one more practice."""
    if session.get(StaffPractice, (user_id, practice_id)) is None:
        session.add(StaffPractice(staff_user_id=user_id, practice_id=practice_id))


def get_active_user(session: Session, *, username: str) -> StaffUserPublic | None:
    """The enabled user called `username`, or None (unknown or disabled)."""
    user = session.exec(
        select(StaffUser).where(StaffUser.username == (username or "").lower())
    ).first()
    if user is None or user.disabled:
        return None
    return StaffUserPublic.model_validate(user)


def load_credentials(session: Session) -> dict:
    """streamlit-authenticator's credentials from the enabled users (hashes only).

    Disabled users are left out, so an old cookie of theirs no longer logs in.
    """
    users = session.exec(select(StaffUser).where(StaffUser.disabled == False)).all()  # noqa: E712
    return {
        "usernames": {
            user.username: {
                "name": user.name,
                "email": user.email,
                "password": user.password_hash,
                "roles": [user.role],
            }
            for user in users
        }
    }


def user_practices(session: Session, *, user_id: int) -> list[PracticeOption]:
    """The practices this user may work in, by name."""
    rows = session.exec(
        select(Practice)
        .join(StaffPractice, StaffPractice.practice_id == Practice.id)
        .where(StaffPractice.staff_user_id == user_id)
        .order_by(Practice.name)
    ).all()
    return [PracticeOption.model_validate(practice) for practice in rows]

