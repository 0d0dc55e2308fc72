"""The Register Patient form: what staff filled in, and its checks, each naming its field.

Field names are the form's labels, so that a page can put each message under its widget.
"""

from __future__ import annotations

from dataclasses import dataclass

from models import EnrollmentMethod
from services import carriers
from services.errors import InvalidInput
from services.i18n import (
    language_not_offered,
    normalize_language,
)
from services.messages import Channel
from services.pins import normalize_answer
from services.settings import Settings, get_settings
from services.validation import normalize_email, normalize_phone

METHOD = "Register Patient with"
EMAIL = "Email Address"
TEXT = "Text Message"
TEXT_CONSENT = "Text consent"
LANGUAGE = "Preferred language"
CARRIER = carriers.FIELD
QUESTION = "Question"
ANSWER = "Answer"
GUARDIAN = "Guardian"
GUARDIAN_FIRST = "Guardian first name"
GUARDIAN_LAST = "Guardian last name"
REASON = "Reason"
APPOINTMENT = "Appointment"
SUBMIT = "Complete Registration"

RELATIONSHIPS = ("Mother", "Father", "Parent", "Legal guardian", "Grandparent", "Other")
MAX_QUESTION = 300
MAX_REASON = 300


@dataclass(frozen=True)
class NewGuardian:
    """A guardian to add to the patient's record along with the registration."""

    first_name: str
    last_name: str
    relationship: str = "Parent"


@dataclass(frozen=True)
class RegistrationForm:
    """The Register Patient form as staff filled it in."""

    method: str = EnrollmentMethod.pin
    email: str = ""
    guardian_id: int | None = None
    new_guardian: NewGuardian | None = None
    send_text: bool = False
    cell_phone: str = ""
    cell_carrier: str | None = None
    send_pin: bool = True  # False: `Do not send PIN`, the parent gets the letter
    verification_question: str = ""
    verification_answer: str = ""
    # What the parent reads (emails, texts, letter); None: the guardian's language on file.
    preferred_language: str | None = None
    text_consent: bool = False  # the parent agreed to receive texts (required with Text Message)


@dataclass(frozen=True)
class CheckedForm:
    """The form's values once checked and normalised."""

    method: str
    email: str
    cell_phone: str | None
    carrier: str | None
    text_channel: str | None
    text_recipient: str | None
    question: str | None
    answer: str | None
    language: str | None = None  # None: keep the guardian's


@dataclass(frozen=True)
class _Text:
    cell_phone: str | None = None
    carrier: str | None = None
    channel: str | None = None
    recipient: str | None = None


def _check_question(form: RegistrationForm,
                    problems: list[InvalidInput]) -> tuple[str | None, str | None]:
    if form.method != EnrollmentMethod.question:
        return None, None
    question = " ".join((form.verification_question or "").split())
    answer = normalize_answer(form.verification_answer)
    if not question:
        problems.append(InvalidInput(
            "Question is empty: write the question the parent will be asked, for example "
            "“What is the name of your child's school?”", field=QUESTION))
    elif len(question) > MAX_QUESTION:
        problems.append(InvalidInput(
            f"Question is too long: keep it under {MAX_QUESTION} characters.", field=QUESTION))
    if not answer:
        problems.append(InvalidInput(
            "Answer is empty: enter the answer the parent must give.", field=ANSWER))
    elif question and answer == normalize_answer(question):
        problems.append(InvalidInput("Answer must not repeat the question.", field=ANSWER))
    return question, answer


def _check_guardian(form: RegistrationForm, problems: list[InvalidInput]) -> None:
    if form.new_guardian is None and form.guardian_id is None:
        problems.append(InvalidInput(
            "Guardian: choose the parent on file or add a new guardian.", field=GUARDIAN))
    if form.new_guardian is not None:
        if not form.new_guardian.first_name.strip():
            problems.append(InvalidInput(
                "Guardian first name is empty: enter the parent's first name.",
                field=GUARDIAN_FIRST))
        if not form.new_guardian.last_name.strip():
            problems.append(InvalidInput(
                "Guardian last name is empty: enter the parent's last name.",
                field=GUARDIAN_LAST))


def _check_gateway(carrier: str, cell_phone: str | None,
                   problems: list[InvalidInput]) -> _Text:
    try:
        carriers.get_carrier(carrier)
    except InvalidInput as error:
        problems.append(error)
        return _Text(cell_phone=cell_phone, carrier=carrier)
    refusal = carriers.closed_carrier_refusal(carrier, sms_api_configured=False)
    if refusal:
        # Texts to a closed gateway vanish without a bounce: the PIN would be lost.
        problems.append(InvalidInput(
            f"{refusal} Untick Text Message to send the PIN by email, or tick Do not send PIN "
            "and print the letter.", field=CARRIER))
        return _Text(cell_phone=cell_phone, carrier=carrier)
    if not cell_phone:
        return _Text(cell_phone=cell_phone, carrier=carrier)
    try:
        recipient = carriers.gateway_address(carrier_key=carrier, cell_phone=cell_phone)
    except InvalidInput as error:
        problems.append(error)
        recipient = None
    return _Text(cell_phone=cell_phone, carrier=carrier, channel=Channel.sms_gateway,
                 recipient=recipient)


def _check_text(form: RegistrationForm, settings: Settings,
                problems: list[InvalidInput]) -> _Text:
    if not form.send_text:
        return _Text()
    if not form.text_consent:
        problems.append(InvalidInput(
            "Text consent is required with Text Message: ask the parent whether they agree to "
            "receive texts from the practice, and tick Text consent (or untick Text Message).",
            field=TEXT_CONSENT))
    cell_phone = None
    try:
        cell_phone = normalize_phone(form.cell_phone, region=settings.phone_region, field=TEXT)
    except InvalidInput as error:
        problems.append(error)
    if settings.sms_api_configured:
        return _Text(cell_phone=cell_phone, carrier=form.cell_carrier or None,
                     channel=Channel.sms_api, recipient=cell_phone)
    if not form.cell_carrier:
        problems.append(InvalidInput(
            "Cell Carrier is required with Text Message: choose the parent's carrier, or "
            "untick Text Message.", field=CARRIER))
        return _Text(cell_phone=cell_phone)
    return _check_gateway(form.cell_carrier, cell_phone, problems)


def _check(form: RegistrationForm,
           settings: Settings) -> tuple[CheckedForm | None, list[InvalidInput]]:
    problems: list[InvalidInput] = []
    if form.method not in (EnrollmentMethod.pin, EnrollmentMethod.question):
        problems.append(InvalidInput("Register Patient with: choose PIN or Verification "
                                     "Question.", field=METHOD))
    email = ""
    try:
        email = normalize_email(form.email, field=EMAIL)
    except InvalidInput as error:
        problems.append(error)
    language = normalize_language(form.preferred_language)
    if language is None and form.preferred_language is not None:
        problems.append(InvalidInput(
            language_not_offered(form.preferred_language, label=LANGUAGE),
            field=LANGUAGE))
    question, answer = _check_question(form, problems)
    _check_guardian(form, problems)
    text = _check_text(form, settings, problems)
    if problems:
        return None, problems
    return CheckedForm(method=form.method, email=email, cell_phone=text.cell_phone,
                       carrier=text.carrier, text_channel=text.channel,
                       text_recipient=text.recipient, question=question, answer=answer,
                       language=language), []


def checked_reason(reason: str | None, *, field: str = REASON,
                   ask: str = "say why the family declines, for example “Prefers paper "
                              "records”") -> str:
    """The reason typed, its spacing tidied; InvalidInput naming `field` when empty or too long."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(f"{field} is empty: {ask}.", field=field)
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"{field} is too long: keep it under {MAX_REASON} characters.",
                           field=field)
    return reason


def check_form(form: RegistrationForm, *, settings: Settings | None = None) -> list[InvalidInput]:
    """Every problem with the form, each naming its field (empty: the form is fine)."""
    return _check(form, settings or get_settings())[1]


def checked_form(form: RegistrationForm, settings: Settings) -> CheckedForm:
    """The form checked and normalised; the first problem raised as InvalidInput."""
    checked, problems = _check(form, settings)
    if problems:
        raise problems[0]
    return checked
