"""What a parent receives: the welcome email and the text message, built from Jinja2 templates.

Building a message is apart from queueing it (services/outbox.py) and sending it
(services/senders.py). A body that carries the PIN holds PIN_PLACEHOLDER where it goes; the PIN
itself is put in only at send time.
"""

from __future__ import annotations

import datetime as dt
import functools
import urllib.parse
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

import jinja2

from models import Practice
from models.public import PracticePublic

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates"
PIN_PLACEHOLDER = "[[PIN]]"


class Channel(StrEnum):
    email = "email"
    sms_gateway = "sms_gateway"  # a text sent as email to the carrier's gateway
    sms_api = "sms_api"  # a text sent through a Twilio-compatible HTTP API


@dataclass(frozen=True)
class OutgoingMessage:
    """A message as built from its template, before it is queued."""

    channel: str
    recipient: str
    subject: str
    body_text: str
    body_html: str | None
    carries_pin: bool  # the bodies hold PIN_PLACEHOLDER


@dataclass(frozen=True)
class Invitation:
    """What the welcome email and the text message say."""

    practice: PracticePublic
    guardian_name: str
    patient_first_name: str
    activation_url: str
    expires_on: dt.date | None
    method: str  # pin or question
    verification_question: str | None = None
    pin_in_email: bool = False
    pin_by_text: bool = False
    pin_on_letter: bool = False  # `Do not send PIN`: staff hand over the letter
    resend: bool = False


def activation_url(practice: PracticePublic | Practice, link_token: str) -> str:
    """The parent's link to the activation page; the one URL of email, letter and QR code."""
    query = urllib.parse.urlencode({"practice": practice.id, "token": link_token})
    return f"{practice.portal_url.rstrip('/')}/activate?{query}"


# --- building ------------------------------------------------------------------------------


@functools.cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )


def _secret_step(invitation: Invitation) -> str:
    child = invitation.patient_first_name
    if invitation.method == "question":
        return f'Answer the verification question: "{invitation.verification_question}"'
    if invitation.pin_in_email:
        where = "the PIN below"
    elif invitation.pin_by_text:
        where = "the PIN we sent to your cell phone by text message"
    elif invitation.pin_on_letter:
        where = f"the PIN printed on the letter {invitation.practice.name} gave you"
    else:
        where = "your PIN (from our earlier message or letter)"
    return f"Enter {where} and {child}'s date of birth."


def _template_values(invitation: Invitation, subject: str, *, pin: str | None) -> dict:
    return {
        "subject": subject,
        "practice": invitation.practice,
        "guardian_name": invitation.guardian_name,
        "patient_first_name": invitation.patient_first_name,
        "activation_url": invitation.activation_url,
        "expires_on": (f"{invitation.expires_on:%B} {invitation.expires_on.day}, "
                       f"{invitation.expires_on.year}" if invitation.expires_on else ""),
        "method": invitation.method,
        "secret_step": _secret_step(invitation),
        "pin": pin,
        "resend": invitation.resend,
    }


def build_welcome_email(invitation: Invitation, *, recipient: str) -> OutgoingMessage:
    """The welcome email: the activation link and steps; the PIN only when no other channel
    carries it and staff did not tick `Do not send PIN`."""
    subject = f"{invitation.practice.name} patient portal: your invitation for " \
              f"{invitation.patient_first_name}"
    pin = PIN_PLACEHOLDER if invitation.pin_in_email else None
    values = _template_values(invitation, subject, pin=pin)
    environment = _templates()
    return OutgoingMessage(
        channel=Channel.email,
        recipient=recipient,
        subject=subject,
        body_text=environment.get_template("welcome_email.txt").render(values),
        body_html=environment.get_template("welcome_email.html").render(values),
        carries_pin=pin is not None,
    )


def build_text_message(invitation: Invitation, *, channel: str, recipient: str) -> OutgoingMessage:
    """The text message: the PIN when it goes by text, otherwise a pointer to the email."""
    pin = PIN_PLACEHOLDER if invitation.pin_by_text else None
    values = _template_values(invitation, "", pin=pin)
    body = _templates().get_template("text_message.txt").render(values).strip()
    return OutgoingMessage(
        channel=channel,
        recipient=recipient,
        subject="",
        body_text=body,
        body_html=None,
        carries_pin=pin is not None,
    )
