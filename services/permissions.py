"""Which role may open which page: one table, read by the navigation and by every page."""

from __future__ import annotations

from models import Role

DASHBOARD = "dashboard"
REGISTER = "register"
ENROLLMENT = "enrollment"
IMPORT = "import"
OUTBOX = "outbox"
STAFF_USERS = "staff_users"
PRACTICE_SETTINGS = "practice_settings"
AUDIT_LOG = "audit_log"
TEXT_OPT_OUTS = "text_opt_outs"

ROLE_PAGES: dict[str, tuple[str, ...]] = {
    Role.staff: (DASHBOARD, REGISTER),
    Role.supervisor: (DASHBOARD, ENROLLMENT),
    Role.admin: (
        DASHBOARD, REGISTER, ENROLLMENT, IMPORT, OUTBOX, STAFF_USERS, PRACTICE_SETTINGS, AUDIT_LOG,
        TEXT_OPT_OUTS,
    ),
}


def can_open(role: str | None, page: str) -> bool:
    """True when `role` may open `page`."""
    return page in ROLE_PAGES.get(role or "", ())
