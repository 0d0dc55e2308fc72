"""What a parent receives, in the parent's language: the welcome email, the text message and
the reminder, built from Jinja2 templates through the gettext catalogs (services/i18n.py). An
invitation of the patient's own (`own_account`) is written to the patient: their own account,
their care, their date of birth.

Building a message is apart from queueing it (services/outbox.py) and sending it
(services/senders.py). A body that carries the PIN holds PIN_PLACEHOLDER where it goes; the PIN
itself is put in only at send time.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass, replace
from enum import StrEnum

from models import Practice
from models.public import PracticePublic
from services.i18n import (
    DEFAULT_LANGUAGE,
    format_long_date,
    format_names,
    gettext_for,
    localized_url,
    template_environment,
)
from services.pins import PIN_LENGTH, format_pin
from services.text_messages import render_text

PIN_PLACEHOLDER = "[[PIN]]"
PIN_SHOWN_LENGTH = len(format_pin("2" * PIN_LENGTH))  # what replaces the placeholder


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
    language: str = DEFAULT_LANGUAGE  # the guardian's preferred language
    own_account: bool = False  # written to the patient themself (adolescent or young adult)
    link_in_text: bool = False  # no email carries the link: the text does (patient's own only)


@dataclass(frozen=True)
class FamilyChild:
    """One child of a family invitation: the name heading its steps and its own link."""

    name: str  # "First Last"
    first_name: str
    activation_url: str  # carries the family's language, as the single email's link does


@dataclass(frozen=True)
class FamilyInvitation:
    """What the family welcome email says: one parent, several children, a PIN each on the
    family letter (services/family.py)."""

    practice: PracticePublic
    guardian_name: str
    children: tuple[FamilyChild, ...]
    expires_on: dt.date | None
    language: str = DEFAULT_LANGUAGE


@dataclass(frozen=True)
class Reminder:
    """What a reminder says: the link only, never the PIN."""

    practice: PracticePublic
    guardian_name: str
    patient_first_name: str
    activation_url: str
    state: str  # pin (still valid), question, or expired
    expires_on: dt.date | None
    language: str = DEFAULT_LANGUAGE
    own_account: bool = False  # the patient's own invitation: "your care", "your date of birth"


def activation_url(practice: PracticePublic | Practice, link_token: str,
                   language: str = DEFAULT_LANGUAGE) -> str:
    """The parent's link to the activation page (the one URL of email, letter and QR code),
    carrying the parent's language when it is not English."""
    query = urllib.parse.urlencode({"practice": practice.id, "token": link_token})
    return localized_url(f"{practice.portal_url.rstrip('/')}/activate?{query}", language)


# --- building ------------------------------------------------------------------------------


def _secret_step(invitation: Invitation) -> str:
    _ = gettext_for(invitation.language)
    values = {"child": invitation.patient_first_name, "practice": invitation.practice.name,
              "question": invitation.verification_question}
    if invitation.method == "question":
        return _('Answer the verification question: "%(question)s"') % values
    if invitation.own_account:
        if invitation.pin_in_email:
            return _("Enter the PIN below and your date of birth.")
        if invitation.pin_by_text:
            return _("Enter the PIN we sent to your cell phone by text message and your date of "
                     "birth.")
        return _("Enter your PIN (from our earlier message or letter) and your date of birth.")
    if invitation.pin_in_email:
        return _("Enter the PIN below and %(child)s's date of birth.") % values
    if invitation.pin_by_text:
        return _("Enter the PIN we sent to your cell phone by text message and %(child)s's date "
                 "of birth.") % values
    if invitation.pin_on_letter:
        return _("Enter the PIN printed on the letter %(practice)s gave you and %(child)s's date "
                 "of birth.") % values
    return _("Enter your PIN (from our earlier message or letter) and %(child)s's date of "
             "birth.") % values


def _template_values(invitation: Invitation, subject: str, *, pin: str | None) -> dict:
    return {
        "subject": subject,
        "practice": invitation.practice,
        "guardian_name": invitation.guardian_name,
        "patient_first_name": invitation.patient_first_name,
        "activation_url": invitation.activation_url,
        "expires_on": (format_long_date(invitation.expires_on, invitation.language)
                       if invitation.expires_on else ""),
        "method": invitation.method,
        "secret_step": _secret_step(invitation),
        "pin": pin,
        "resend": invitation.resend,
        "own_account": invitation.own_account,
    }


def _templated_email(template: str, language: str, values: dict, *, subject: str,
                     recipient: str, carries_pin: bool = False) -> OutgoingMessage:
    """An email whose text and HTML parts are `template`.txt/.html rendered in `language`."""
    environment = template_environment(language)
    return OutgoingMessage(
        channel=Channel.email, recipient=recipient, subject=subject,
        body_text=environment.get_template(f"{template}.txt").render(values),
        body_html=environment.get_template(f"{template}.html").render(values),
        carries_pin=carries_pin,
    )


def build_welcome_email(invitation: Invitation, *, recipient: str) -> OutgoingMessage:
    """The welcome email: the activation link and steps; the PIN only when no other channel
    carries it and staff did not tick `Do not send PIN`."""
    _ = gettext_for(invitation.language)
    subject = (_("%(practice)s patient portal: your invitation to your own account")
               if invitation.own_account else
               _("%(practice)s patient portal: your invitation for %(child)s")) % {
        "practice": invitation.practice.name, "child": invitation.patient_first_name}
    pin = PIN_PLACEHOLDER if invitation.pin_in_email else None
    values = _template_values(invitation, subject, pin=pin)
    return _templated_email("welcome_email", invitation.language, values, subject=subject,
                            recipient=recipient, carries_pin=pin is not None)


def build_family_welcome_email(family: FamilyInvitation, *, recipient: str) -> OutgoingMessage:
    """The family welcome email: the welcome email's layout and steps, one section per child
    with its own link; the first child creates the account, each further one is added to it
    ("I already have an account"). The PINs are on the family letter, never in the email."""
    _ = gettext_for(family.language)
    names = format_names([child.first_name for child in family.children], family.language)
    subject = _("%(practice)s patient portal: your invitation for %(children)s") % {
        "practice": family.practice.name, "children": names}
    # Each child's PIN step is the single email's, for a PIN handed over on the letter.
    step = Invitation(practice=family.practice, guardian_name=family.guardian_name,
                      patient_first_name="", activation_url="", expires_on=family.expires_on,
                      method="pin", pin_on_letter=True, language=family.language)
    values = {
        "subject": subject,
        "practice": family.practice,
        "guardian_name": family.guardian_name,
        "children_names": names,
        "children": [{"name": child.name, "first_name": child.first_name,
                      "activation_url": child.activation_url,
                      "secret_step": _secret_step(replace(step,
                                                          patient_first_name=child.first_name))}
                     for child in family.children],
        "expires_on": (format_long_date(family.expires_on, family.language)
                       if family.expires_on else ""),
    }
    return _templated_email("family_welcome_email", family.language, values, subject=subject,
                            recipient=recipient)


def build_text_message(invitation: Invitation, *, channel: str, recipient: str) -> OutgoingMessage:
    """The text message: the practice's name, the PIN when it goes by text (otherwise a
    pointer to the email, or the link when no email carries it), the STOP line; within 160
    characters where possible."""
    pin = PIN_PLACEHOLDER if invitation.pin_by_text else None
    body = render_text(language=invitation.language, kind="invitation",
                       practice_name=invitation.practice.name,
                       patient_first_name=invitation.patient_first_name, pin=pin,
                       expires_on=invitation.expires_on, pin_length=PIN_SHOWN_LENGTH,
                       own_account=invitation.own_account,
                       link=invitation.activation_url if invitation.link_in_text else None)
    return OutgoingMessage(
        channel=channel,
        recipient=recipient,
        subject="",
        body_text=body,
        body_html=None,
        carries_pin=pin is not None,
    )


def build_reminder_email(reminder: Reminder, *, recipient: str) -> OutgoingMessage:
    """The reminder email in the parent's language: the link, never the PIN."""
    _ = gettext_for(reminder.language)
    subject = (_("Reminder: your own account on the %(practice)s patient portal")
               if reminder.own_account else
               _("Reminder: the %(practice)s patient portal for %(child)s")) % {
        "practice": reminder.practice.name, "child": reminder.patient_first_name}
    values = {
        "subject": subject,
        "practice": reminder.practice,
        "guardian_name": reminder.guardian_name,
        "patient_first_name": reminder.patient_first_name,
        "activation_url": reminder.activation_url,
        "state": reminder.state,
        "own_account": reminder.own_account,
        "expires_on": (format_long_date(reminder.expires_on, reminder.language)
                       if reminder.expires_on else ""),
    }
    return _templated_email("reminder_email", reminder.language, values, subject=subject,
                            recipient=recipient)


def build_reminder_text(reminder: Reminder, *, channel: str, recipient: str,
                        link_in_text: bool = False) -> OutgoingMessage:
    """The reminder text: the practice, the child, a pointer to the email (or, for the
    patient's own invitation without one, the link), the STOP line."""
    body = render_text(language=reminder.language, kind="reminder",
                       practice_name=reminder.practice.name,
                       patient_first_name=reminder.patient_first_name,
                       own_account=reminder.own_account,
                       link=reminder.activation_url if link_in_text else None)
    return OutgoingMessage(channel=channel, recipient=recipient, subject="", body_text=body,
                           body_html=None, carries_pin=False)
