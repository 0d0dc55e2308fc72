"""How staff pages, messages and the CLI write a day and a moment, in one place: MM/DD/YYYY, a
12-hour clock without a leading zero (`2:05 PM`), and a stored UTC moment moved into the
practice's timezone first. Parent-facing dates are written per language by services.i18n."""

from __future__ import annotations

import datetime as dt
import zoneinfo

Zone = str | zoneinfo.ZoneInfo  # an IANA name as a practice stores it, or the zone itself


def in_practice_time(moment: dt.datetime, timezone: Zone) -> dt.datetime:
    """A stored moment in the practice's timezone (a moment without a zone is UTC, as stored)."""
    zone = timezone if isinstance(timezone, zoneinfo.ZoneInfo) else zoneinfo.ZoneInfo(timezone)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone)


def practice_day(moment: dt.datetime | None, timezone: Zone) -> dt.date | None:
    """The practice's calendar day of a stored moment (None for none)."""
    return in_practice_time(moment, timezone).date() if moment is not None else None


def practice_today(timezone: Zone) -> dt.date:
    """Today's date where the practice is."""
    return practice_day(dt.datetime.now(dt.UTC), timezone)


def date_text(day: dt.date | None, *, weekday: bool = False, year: bool = True) -> str:
    """`11/30/2026` (`Mon 11/30/2026` with the weekday, `11/30` without the year); "" for none."""
    if day is None:
        return ""
    text = f"{day:%m/%d/%Y}" if year else f"{day:%m/%d}"
    return f"{day:%a} {text}" if weekday else text


def time_text(moment: dt.datetime | dt.time, *, seconds: bool = False) -> str:
    """`2:05 PM` (`2:05:09 PM` with seconds): 12-hour, midnight `12:00 AM`, noon `12:00 PM`."""
    clock = f"{moment.hour % 12 or 12}:{moment:%M}" + (f":{moment:%S}" if seconds else "")
    return f"{clock} {'AM' if moment.hour < 12 else 'PM'}"


def moment_text(moment: dt.datetime | None, timezone: Zone | None = None, *,
                weekday: bool = False, seconds: bool = False) -> str:
    """`11/30/2026 2:05 PM`: a moment as staff read it, first moved into `timezone` when one is
    given (a stored UTC moment); "" for none."""
    if moment is None:
        return ""
    if timezone is not None:
        moment = in_practice_time(moment, timezone)
    return f"{date_text(moment.date(), weekday=weekday)} {time_text(moment, seconds=seconds)}"
