"""An audit event's details as labelled words for the Audit Log page (the CSV keeps the JSON)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import zoneinfo

# Detail keys in the words of the page; a key not listed reads as a sentence ("gave up").
DETAIL_LABELS: dict[str, str] = {
    "account_id": "Portal account",
    "appointments": "Appointments",
    "attempts": "Wrong tries",
    "channel": "Sent by",
    "changes": "Changed",
    "client": "From",
    "consecutive": "Failures in a row",
    "day": "Day",
    "enrollment_id": "Invitation",
    "error": "Error",
    "file": "File",
    "guardian_id": "Guardian",
    "message_id": "Message",
    "message_ids": "Messages",
    "new_messages": "New messages",
    "outcome": "Outcome",
    "previous_status": "Previous status",
    "queued_id": "Queued message",
    "recipient": "To",
    "requeued": "Queued again",
    "until": "Until",
}
CHANNEL_WORDS = {"email": "Email", "sms_gateway": "Text via carrier gateway",
                 "sms_api": "Text via SMS service"}
FIELD_WORDS = {"cell_phone": "cell phone", "portal_url": "portal address",
               "pin_lifetime_days": "PIN lifetime (days)", "minor_age_limit": "minor age limit"}


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
    if moment.tzinfo is None:
        return f"{moment:%m/%d/%Y}" if len(value) == 10 else f"{moment:%m/%d/%Y %I:%M %p}"
    return f"{moment.astimezone(zone):%m/%d/%Y %I:%M %p}"


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


def describe_detail(detail: str, *, timezone: str) -> str:
    """The stored JSON details as "Label: value" phrases, in words."""
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
        label = DETAIL_LABELS.get(key) or _words(key)
        shown = (_changes(value, zone) if key == "changes" and isinstance(value, dict)
                 else _value(key, value, zone))
        phrases.append(f"{label}: {shown}")
    return " · ".join(phrases)
