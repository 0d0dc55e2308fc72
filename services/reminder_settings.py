"""Practice settings for reminders: `Remind after (days)` and `Remind before PIN expiry
(days)`, parsed and checked with messages naming the field."""

from __future__ import annotations

from services.errors import InvalidInput, quoted

REMIND_AFTER = "Remind after (days)"
REMIND_BEFORE = "Remind before PIN expiry (days)"
DEFAULT_REMIND_AFTER = (3, 10)
MAX_DAYS = 60


def parse_remind_after(text: str | None) -> tuple[int, ...]:
    """`"3, 10"` → (3, 10); empty → no reminders after the invitation; else InvalidInput."""
    parts = [part.strip() for part in (text or "").replace(";", ",").split(",") if part.strip()]
    days: set[int] = set()
    for part in parts:
        if not part.isdigit() or not 1 <= int(part) <= MAX_DAYS:
            raise InvalidInput(
                f"{REMIND_AFTER}: {quoted(part)} is not a number of days from 1 to {MAX_DAYS}; "
                "write the days separated by commas, for example 3, 10.", field=REMIND_AFTER)
        days.add(int(part))
    if len(days) > 5:
        raise InvalidInput(f"{REMIND_AFTER}: at most 5 reminders, for example 3, 10.",
                           field=REMIND_AFTER)
    return tuple(sorted(days))


def format_remind_after(days: tuple[int, ...]) -> str:
    """(3, 10) → `"3,10"`, as stored on the practice."""
    return ",".join(str(day) for day in days)


def check_remind_before(value: int | None) -> int:
    """Days before the PIN expires (0: no such reminder), or InvalidInput."""
    if value is None or not 0 <= int(value) <= MAX_DAYS:
        raise InvalidInput(f"{REMIND_BEFORE} must be from 0 (none) to {MAX_DAYS}.",
                           field=REMIND_BEFORE)
    return int(value)
