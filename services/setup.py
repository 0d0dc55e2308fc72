"""First run: a one-time setup token in the data folder, then the first administrator."""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path

from sqlmodel import Session

from models import Role
from models.public import StaffUserPublic
from services import auth
from services.errors import Conflict, InvalidInput
from services.settings import get_settings

TOKEN_FILE = "setup_token.txt"


def token_path(data_dir: Path | None = None) -> Path:
    """Where the setup token is written."""
    return (data_dir or get_settings().data_dir) / TOKEN_FILE


def ensure_setup_token(data_dir: Path | None = None) -> str:
    """The current setup token, generated into the data folder when missing."""
    path = token_path(data_dir)
    if path.exists():
        token = path.read_text(encoding="utf-8").strip()
        if token:
            return token
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    path.write_text(token + "\n", encoding="utf-8")
    path.chmod(0o600)
    return token


def create_first_admin(
    session: Session,
    *,
    token: str,
    username: str,
    name: str,
    email: str,
    password: str,
    password_repeat: str,
    data_dir: Path | None = None,
) -> StaffUserPublic:
    """Create the first administrator if the token matches and no user exists yet."""
    path = token_path(data_dir)
    expected = path.read_text(encoding="utf-8").strip() if path.exists() else ""
    if not expected or not hmac.compare_digest(expected.encode(), (token or "").strip().encode()):
        raise InvalidInput(
            "Setup token is not right: copy it from the server's terminal or from "
            f"{path}.",
            field="Setup token",
        )
    if password != password_repeat:
        raise InvalidInput("The two passwords differ: type the same password twice.",
                           field="Repeat password")
    # Under BEGIN IMMEDIATE (SQLite) or the unique username, two setups cannot both win.
    if auth.count_users(session) > 0:
        raise Conflict("Setup is already done: sign in instead.")
    user = auth.create_user(
        session, username=username, name=name, email=email, role=Role.admin,
        password=password, actor="setup",
    )
    return user


def create_first_practice(
    session: Session, *, admin: StaffUserPublic, name: str, timezone: str,
    portal_url: str | None = None,
) -> None:
    """Create the administrator's own practice during setup and make them a member."""
    from services.practices import create_practice

    practice = create_practice(session, name=name, timezone=timezone, actor=admin.username,
                               portal_url=portal_url)
    auth.add_membership(session, user_id=admin.id, practice_id=practice.id)


def finish_setup(data_dir: Path | None = None) -> None:
    """Remove the used token (after the admin's transaction committed)."""
    token_path(data_dir).unlink(missing_ok=True)
