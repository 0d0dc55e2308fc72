"""An audit event's details as labelled words for the Audit Log page (the CSV keeps the JSON).

Internal ids are not shown: a visit, a guardian and a staff user read as what a person knows
them by (the visit's day, time and provider; a name); any other id is left out.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import zoneinfo
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlmodel import Session

from models import Appointment, Guardian, Provider, StaffUser
from services.dates import date_text, moment_text
from services.i18n import language_name, normalize_language

# Detail keys in the words of the page; a key not listed reads as a sentence ("gave up").
DETAIL_LABELS: dict[str, str] = {
    "appointment_id": "Visit",
    "appointments": "Appointments",
    "attempts": "Wrong tries",
    "channel": "Sent by",
    "changes": "Changed",
    "client": "From",
    "consecutive": "Failures in a row",
    "day": "Day",
    "error": "Error",
    "file": "File",
    "method": "Verified by",
    "guardian_id": "Guardian",
    "new_messages": "New messages",
    "outcome": "Outcome",
    "previous_status": "Previous status",
    "recipient": "To",
    "requeued": "Queued again",
    "staff_user_id": "Staff user",
    "text": "Text message via",
    "until": "Until",
}
METHOD_WORDS = {"pin": "PIN", "question": "Verification question"}
CHANNEL_WORDS = {"email": "Email", "sms_gateway": "Text via carrier gateway",
                 "sms_api": "Text via SMS service"}
TEXT_ROUTE_WORDS = {"sms_gateway": "carrier gateway", "sms_api": "SMS service"}
FIELD_WORDS = {"cell_phone": "cell phone", "portal_url": "portal address",
               "pin_lifetime_days": "PIN lifetime (days)", "minor_age_limit": "minor age limit"}


# id -> words, for each id key a person reads as something else (the others are left out)
Referents = Mapping[str, Mapping[int, str]]
REFERENT_KEYS = ("appointment_id", "guardian_id", "staff_user_id")


def _internal_id(key: str) -> bool:
    return key == "id" or key.endswith(("_id", "_ids"))


def _words(code: str) -> str:
    return code.replace("_", " ").strip().capitalize()


def _client(value: str) -> str:
    """`ip:::ffff:203.0.113.9` -> `203.0.113.9`; `session:…` -> `this browser session`."""
    kind, _, rest = value.partition(":")
    if kind == "session":
        return "a browser session"
    try:
        address = ipaddress.ip_address(rest)
    except ValueError:
        return rest or value
    mapped = getattr(address, "ipv4_mapped", None)
    return str(mapped or address)


def _moment(value: str, zone: zoneinfo.ZoneInfo) -> str | None:
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:  # a day, or a wall-clock time, recorded as it was meant
        return date_text(moment.date()) if len(value) == 10 else moment_text(moment)
    return moment_text(moment, zone)


def _value(key: str, value, zone: zoneinfo.ZoneInfo) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None or value == "":
        return "none"
    if isinstance(value, list):
        return ", ".join(_value(key, item, zone) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{_words(k)} {_value(k, v, zone)}" for k, v in value.items())
    if key == "client":
        return _client(str(value))
    if key == "channel":
        return CHANNEL_WORDS.get(str(value), _words(str(value)))
    if key == "text":  # a registration's text message: how it is sent
        return TEXT_ROUTE_WORDS.get(str(value), _words(str(value)))
    if key == "method":
        return METHOD_WORDS.get(str(value), _words(str(value)))
    if key == "language":  # "es" -> "Español", as the language choices name it
        code = normalize_language(str(value))
        return language_name(code) if code else str(value)
    if isinstance(value, str):
        moment = _moment(value, zone) if value[:2].isdigit() else None
        return moment or (value.replace("_", " ") if key in {"outcome", "previous_status"}
                          else value)
    return str(value)


def _changes(changes: dict, zone: zoneinfo.ZoneInfo) -> str:
    """`{"phone": ["", "(617) 555-0100"]}` -> `phone from none to (617) 555-0100`."""
    parts = []
    for field, change in changes.items():
        name = FIELD_WORDS.get(field, field.replace("_", " "))
        if isinstance(change, list) and len(change) == 2:
            parts.append(f"{name} from {_value(field, change[0], zone)} "
                         f"to {_value(field, change[1], zone)}")
        else:
            parts.append(f"{name} {_value(field, change, zone)}")
    return "; ".join(parts)


def describe_detail(detail: str, *, timezone: str, referents: Referents | None = None) -> str:
    """The stored JSON details as "Label: value" phrases, in words; ids become what `referents`
    calls them, or are left out."""
    if not detail:
        return ""
    try:
        values = json.loads(detail)
    except json.JSONDecodeError:
        return detail
    if not isinstance(values, dict):
        return str(values)
    zone = zoneinfo.ZoneInfo(timezone)
    phrases = []
    for key, value in values.items():
        if _internal_id(key):
            shown = (referents or {}).get(key, {}).get(value) if isinstance(value, int) else None
            if shown:
                phrases.append(f"{DETAIL_LABELS[key]}: {shown}")
            continue
        label = DETAIL_LABELS.get(key) or _words(key)
        shown = (_changes(value, zone) if key == "changes" and isinstance(value, dict)
                 else _value(key, value, zone))
        phrases.append(f"{label}: {shown}")
    return " · ".join(phrases)


def _referred(details: Iterable[str]) -> dict[str, set[int]]:
    wanted: dict[str, set[int]] = {key: set() for key in REFERENT_KEYS}
    for detail in details:
        if not any(key in (detail or "") for key in REFERENT_KEYS):
            continue
        try:
            values = json.loads(detail)
        except json.JSONDecodeError:
            continue
        if not isinstance(values, dict):
            continue
        for key in REFERENT_KEYS:
            if isinstance(values.get(key), int):
                wanted[key].add(values[key])
    return wanted


def load_referents(session: Session, *, practice_id: int, timezone: str,
                   details: Iterable[str]) -> Referents:
    """What the visits, guardians and staff users named in `details` (JSON) are called: a
    visit by its day, time (in `timezone`) and provider, the others by name."""
    wanted = _referred(details)
    zone = zoneinfo.ZoneInfo(timezone)
    found: dict[str, dict[int, str]] = {key: {} for key in REFERENT_KEYS}
    if wanted["appointment_id"]:
        for visit_id, start_at, provider in session.execute(
                select(Appointment.id, Appointment.start_at, Provider.name)
                .outerjoin(Provider, Provider.id == Appointment.provider_id)
                .where(Appointment.id.in_(wanted["appointment_id"]),
                       Appointment.practice_id == practice_id)):
            when = moment_text(start_at, zone)
            found["appointment_id"][visit_id] = f"{when} with {provider}" if provider else when
    if wanted["guardian_id"]:
        found["guardian_id"] = {
            guardian_id: f"{first} {last}".strip() for guardian_id, first, last in session.execute(
                select(Guardian.id, Guardian.first_name, Guardian.last_name)
                .where(Guardian.id.in_(wanted["guardian_id"]),
                       Guardian.practice_id == practice_id))}
    if wanted["staff_user_id"]:
        found["staff_user_id"] = {
            user_id: f"{name} ({username})" for user_id, name, username in session.execute(
                select(StaffUser.id, StaffUser.name, StaffUser.username)
                .where(StaffUser.id.in_(wanted["staff_user_id"])))}
    return found
