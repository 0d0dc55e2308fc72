"""US cell carriers' email-to-SMS gateways, with the ones that no longer deliver marked."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from services.errors import InvalidInput

FIELD = "Cell Carrier"


@dataclass(frozen=True)
class Carrier:
    """A carrier as the `Cell Carrier` drop-down offers it."""

    key: str  # stored in Enrollment.cell_carrier
    name: str
    gateway: str  # domain that turns email into a text message
    shut_down: str | None = None  # why texts through this gateway no longer arrive

    @property
    def label(self) -> str:
        """The drop-down text, flagging a closed gateway."""
        return f"{self.name} (gateway closed)" if self.shut_down else self.name


# Gateways take the 10-digit national number as the local part. Keep the closed ones
# listed: staff look for the parent's carrier by name and must learn why it cannot be used.
CARRIERS: tuple[Carrier, ...] = (
    Carrier("att", "AT&T", "txt.att.net",
            shut_down="AT&T closed its email-to-text gateway in June 2025; texts sent "
                      "through it no longer arrive."),
    Carrier("boost", "Boost Mobile", "sms.myboostmobile.com"),
    Carrier("consumer_cellular", "Consumer Cellular", "mailmymobile.net"),
    Carrier("cricket", "Cricket Wireless", "sms.cricketwireless.net"),
    Carrier("google_fi", "Google Fi", "msg.fi.google.com"),
    Carrier("metro", "Metro by T-Mobile", "mymetropcs.com"),
    Carrier("sprint", "Sprint", "messaging.sprintpcs.com",
            shut_down="Sprint merged into T-Mobile and its gateway no longer delivers; "
                      "choose T-Mobile for former Sprint numbers."),
    Carrier("tmobile", "T-Mobile", "tmomail.net"),
    Carrier("uscellular", "UScellular", "email.uscc.net"),
    Carrier("verizon", "Verizon", "vtext.com"),
)
_BY_KEY = {carrier.key: carrier for carrier in CARRIERS}


def list_carriers() -> list[Carrier]:
    """Every carrier, by name, closed gateways included (and flagged)."""
    return sorted(CARRIERS, key=lambda carrier: carrier.name.casefold())


def get_carrier(key: str | None) -> Carrier:
    """The carrier with this key, or InvalidInput at `Cell Carrier`."""
    carrier = _BY_KEY.get(key or "")
    if carrier is None:
        raise InvalidInput(
            "Cell Carrier is missing: choose the parent's carrier so the text can be sent.",
            field=FIELD,
        )
    return carrier


def carrier_warning(key: str | None) -> str | None:
    """What staff must know about a carrier whose gateway is closed (None: it works)."""
    carrier = _BY_KEY.get(key or "")
    return carrier.shut_down if carrier else None


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
