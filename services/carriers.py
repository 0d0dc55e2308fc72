"""US cell carriers' email-to-SMS gateways, with the ones that no longer deliver marked."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import phonenumbers

from services.errors import InvalidInput

FIELD = "Cell Carrier"


@dataclass(frozen=True)
class Carrier:
    """A carrier as the `Cell Carrier` drop-down offers it, with its gateway's dates."""

    key: str  # stored in Enrollment.cell_carrier
    name: str
    gateway: str  # domain that turns email into a text message
    closed_on: dt.date | None = None  # from this day texts through the gateway vanish
    closed_when: str = ""  # the closing date as announced ("June 2025")
    note: str = ""  # what staff should do instead

    def is_closed(self, today: dt.date | None = None) -> bool:
        """True when texts through this gateway no longer arrive on `today`."""
        return self.closed_on is not None and (today or dt.date.today()) >= self.closed_on

    def closing_notice(self, today: dt.date | None = None) -> str | None:
        """The closed or closing announcement, in words (None: no date is known)."""
        if self.closed_on is None:
            return None
        if self.is_closed(today):
            return (f"{self.name} closed its email-to-text gateway ({self.gateway}) in "
                    f"{self.closed_when}; texts sent through it no longer arrive. {self.note}")
        return (f"{self.name} closes its email-to-text gateway ({self.gateway}) on "
                f"{self.closed_when}; after that day texts sent through it no longer arrive. "
                f"{self.note}")

    @property
    def shut_down(self) -> str | None:
        """Why texts through this gateway no longer arrive today (None: it works)."""
        return self.closing_notice() if self.is_closed() else None

    @property
    def label(self) -> str:
        """The drop-down text, flagging a closed or closing gateway."""
        if self.is_closed():
            return f"{self.name} (gateway closed)"
        if self.closed_on:
            return f"{self.name} (gateway closes {self.closed_when})"
        return self.name


_USE_SMS_API = "Use the SMS API, the email, or the printed PIN letter instead."

# Gateways take the 10-digit national number as the local part. Keep the closed ones
# listed: staff look for the parent's carrier by name and must learn why it cannot be used.
# Dates as the carriers announced them; the first day of the month when only a month was.
CARRIERS: tuple[Carrier, ...] = (
    Carrier("att", "AT&T", "txt.att.net", closed_on=dt.date(2025, 6, 1),
            closed_when="June 2025", note=_USE_SMS_API),
    Carrier("boost", "Boost Mobile", "sms.myboostmobile.com"),
    Carrier("consumer_cellular", "Consumer Cellular", "mailmymobile.net"),
    Carrier("cricket", "Cricket Wireless", "sms.cricketwireless.net"),
    Carrier("google_fi", "Google Fi", "msg.fi.google.com"),
    Carrier("metro", "Metro by T-Mobile", "mymetropcs.com"),
    Carrier("sprint", "Sprint", "messaging.sprintpcs.com", closed_on=dt.date(2020, 4, 1),
            closed_when="April 2020, when Sprint merged into T-Mobile",
            note="Former Sprint numbers are T-Mobile numbers now. " + _USE_SMS_API),
    Carrier("tmobile", "T-Mobile", "tmomail.net", closed_on=dt.date(2024, 12, 1),
            closed_when="December 2024", note=_USE_SMS_API),
    Carrier("uscellular", "UScellular", "email.uscc.net"),
    Carrier("verizon", "Verizon", "vtext.com", closed_on=dt.date(2027, 4, 1),
            closed_when="March 31, 2027", note=_USE_SMS_API),
)
CARRIERS_BY_KEY = {carrier.key: carrier for carrier in CARRIERS}


def list_carriers() -> list[Carrier]:
    """Every carrier, by name, closed gateways included (and flagged)."""
    return sorted(CARRIERS, key=lambda carrier: carrier.name.casefold())


def get_carrier(key: str | None) -> Carrier:
    """The carrier with this key, or InvalidInput at `Cell Carrier`."""
    carrier = CARRIERS_BY_KEY.get(key or "")
    if carrier is None:
        raise InvalidInput(
            "Cell Carrier is missing: choose the parent's carrier so the text can be sent.",
            field=FIELD,
        )
    return carrier


def carrier_warning(key: str | None, *, today: dt.date | None = None) -> str | None:
    """What staff must know about a carrier whose gateway is closed or closing (None: it
    works and no closing is announced)."""
    carrier = CARRIERS_BY_KEY.get(key or "")
    return carrier.closing_notice(today) if carrier else None


def closed_carrier_refusal(key: str | None, *, sms_api_configured: bool,
                           today: dt.date | None = None) -> str | None:
    """Why `Cell Carrier` cannot be this carrier (None: it can): a closed gateway is refused
    unless the SMS API, which needs no carrier, sends the text."""
    carrier = CARRIERS_BY_KEY.get(key or "")
    if carrier is None or sms_api_configured or not carrier.is_closed(today):
        return None
    return carrier.closing_notice(today)


def gateway_address(*, carrier_key: str, cell_phone: str) -> str:
    """The email address that reaches `cell_phone` (E.164, a US number) as a text."""
    carrier = get_carrier(carrier_key)
    number = phonenumbers.parse(cell_phone, "US")
    if number.country_code != 1:
        raise InvalidInput(
            "Carrier gateways only reach US and Canadian numbers: use a US cell number "
            "or ask the administrator to set up the SMS service.",
            field="Text Message",
        )
    return f"{number.national_number}@{carrier.gateway}"
