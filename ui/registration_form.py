"""The Register Patient form and its confirmation: the seed's fields, each with its error under
it; Complete Registration / Issue New PIN; the PIN shown once with the PIN letter, and delivery
right after the commit in the outbox's words."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, replace

import streamlit as st

from models import EnrollmentRecipient
from models.registration import EnrollmentSummary
from services import carriers, invitation_resend, outbox, registration
from services import registration_form as fields
from services.dates import date_text, practice_day
from services.db import session_scope
from services.email_typos import email_hint
from services.errors import PortalError
from services.family import SIBLINGS
from services.family_letter import render_family_letters
from services.i18n import DEFAULT_LANGUAGE, language_name, supported_languages
from services.letters import PinLetter, render_pin_letter
from services.registration_context import RegistrationContext
from services.registration_form import NewGuardian, RegistrationForm
from services.settings import get_settings
from services.validation import format_phone
from ui.context import PageContext
from ui.family import FAMILY_KEY, chosen_siblings, register_with_siblings, siblings_picker
from ui.text import flash, plain

DONE_KEY = "_register_done"  # the last completed registration: the PIN lives only here
ERRORS_KEY = "_register_errors"  # (field, message) pairs from the last press
NEW_GUARDIAN = -1
PIN_LABEL, QUESTION_LABEL = "PIN", "Verification Question"

FLASH = "register"  # the Register page's one-time message


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation screen shows once; kept in st.session_state only."""

    practice_id: int
    patient_id: int
    enrollment_id: int
    patient_name: str
    pin: str | None
    pin_channel: str
    email: str
    text_recipient: str | None
    expires_at: dt.datetime
    letter: PinLetter
    message_ids: tuple[int, ...]
    delivery: str | None = None  # None: not attempted yet
    delivery_ok: bool = False
    text_refusal: str | None = None  # why no text went although Text Message was ticked
    family_letters: tuple | None = None  # a family registration: one letter for every child


def deliver_now(message_ids: tuple[int, ...]) -> tuple[str, bool]:
    """Send these messages right after their commit; say what happened, in the outbox's words."""
    try:
        with session_scope() as session:
            report = outbox.send_due_messages(session, message_ids=message_ids)
    except Exception:  # noqa: BLE001 - the registration is saved; the outbox retries delivery
        report = None
    delivered = report is not None and report.sent == len(message_ids)
    return outbox.describe_delivery(report, len(message_ids)), delivered


def resend_and_say(work, words) -> None:
    """Run a resend (`work(session)` returns its ResendResult) in its own unit of work, deliver
    its messages after the commit, and flash `words(result)` with how delivery went (or the
    refusal) on the next run."""
    try:
        with session_scope() as session:
            resent = work(session)
    except PortalError as error:
        st.cache_data.clear()
        flash(FLASH, error.message, "error")
        return
    st.cache_data.clear()
    delivery, delivered = deliver_now(resent.message_ids)
    flash(FLASH, f"{words(resent)} {delivery}", "success" if delivered else "warning")


def resend_now(practice_id: int, patient_id: int, enrollment_id: int, actor: str,
               recipient: EnrollmentRecipient = EnrollmentRecipient.parent) -> None:
    """Resend a live invitation, the parent's or the patient's own: requeue what was not sent,
    or send the link again."""
    own = recipient == EnrollmentRecipient.patient

    def words(resent) -> str:
        if resent.requeued:
            note = "The original messages were not sent yet and go out now."
        elif own:
            note = ("The activation link was sent again; the PIN is not kept, so it is not in "
                    "it. If the patient lost the PIN, invite them again below.")
        else:
            note = ("A new email with the activation link was sent; the PIN is not kept, so it "
                    "is not in it. If the parent lost the PIN, issue a new one.")
        done = "The patient's invitation was resent." if own else "Invitation resent."
        return f"{done} {note}"

    resend_and_say(lambda session: invitation_resend.resend_invitation(
        session, practice_id=practice_id, patient_id=patient_id, enrollment_id=enrollment_id,
        actor=actor, recipient=recipient), words)


def record_download(practice_id: int, patient_id: int, enrollment_id: int, actor: str) -> None:
    """The Print PIN button's callback: audit the letter download."""
    try:
        with session_scope() as session:
            registration.record_letter_download(session, practice_id=practice_id,
                                                patient_id=patient_id,
                                                enrollment_id=enrollment_id, actor=actor)
    except PortalError:
        return  # the download itself must not fail over its audit line
    st.cache_data.clear()


# --- the confirmation ------------------------------------------------------------------------


def show_confirmation(done: Confirmation, context: PageContext, timezone: str) -> None:
    """The PIN shown once, where it went, how delivery went, and Print PIN."""
    if done.delivery is None:
        # Delivery runs here, after the registration's commit, once per registration.
        delivery, delivered = deliver_now(done.message_ids)
        done = replace(done, delivery=delivery, delivery_ok=delivered)
        st.session_state[DONE_KEY] = done
    st.success(f"Registration complete for {plain(done.patient_name)}.",
               icon=":material/check_circle:")
    if done.pin:
        st.markdown(f"### PIN: `{done.pin}`")
        where = {
            "email": f"It is in the welcome email to {plain(done.email)}.",
            "text": (f"It goes by text message to {format_phone(done.text_recipient)}; "
                     f"the welcome email to {plain(done.email)} carries the link."),
            "letter": "It was sent in no message: hand the parent the PIN letter.",
        }[done.pin_channel]
        st.markdown(f"Shown only on this screen. {where} Valid until "
                    f"**{date_text(practice_day(done.expires_at, timezone))}**.")
    else:
        st.markdown(f"The parent answers the verification question to activate. The welcome "
                    f"email to {plain(done.email)} carries the link.")
    texted = done.text_recipient and not done.text_refusal
    channels = "Welcome email and text message" if texted else "Welcome email"
    (st.info if done.delivery_ok else st.warning)(f"{channels}: {done.delivery}")
    if done.text_refusal:
        st.warning(f"No text message: {done.text_refusal}", icon=":material/sms_failed:")
    left, right = st.columns(2)
    # The letter is made when the button is clicked, over this staff session's connection:
    # no PDF with the PIN waits at a media URL, and none is served once Done is pressed.
    if done.pin:  # a verification question has no PIN to print
        left.download_button(
            "Print PIN",
            data=(functools.partial(render_family_letters, [list(done.family_letters)])
                  if done.family_letters else functools.partial(render_pin_letter, done.letter)),
            file_name="pin-letter.pdf", mime="application/pdf",
            icon=":material/print:",
            type="primary" if done.pin_channel == "letter" else "secondary",
            on_click=record_download,
            args=(done.practice_id, done.patient_id, done.enrollment_id, context.user.username),
            key="register_print_pin",
        )
    if right.button("Done", key="register_done_button"):
        st.session_state.pop(DONE_KEY, None)  # the PIN leaves memory here
        st.rerun()


# --- the form ----------------------------------------------------------------------------
#
# Buttons act in on_click callbacks with the state the user saw bound as arguments: a desk whose
# page is stale (another desk registered meanwhile) is refused by the service with a clear
# message, instead of acting on whatever the rerun would load first.


@dataclass(frozen=True)
class Submission:
    """What a press of Complete Registration / Issue New PIN acts on (bound at render time)."""

    practice_id: int
    staff_user_id: int
    actor: str
    patient_id: int
    appointment_id: int | None
    replacing_enrollment_id: int | None  # set: Issue New PIN for this enrollment
    prefix: str


def read_form(prefix: str) -> RegistrationForm:
    """The form's values from the widgets' state (keys under `prefix`)."""
    state = st.session_state
    guardian_id = state.get(prefix + "guardian")
    method = "question" if state.get(prefix + "method") == QUESTION_LABEL else "pin"
    send_text = bool(state.get(prefix + "text"))
    new_guardian = None
    if guardian_id == NEW_GUARDIAN:
        new_guardian = NewGuardian(first_name=state.get(prefix + "new_first", ""),
                                   last_name=state.get(prefix + "new_last", ""),
                                   relationship=state.get(prefix + "new_rel", "Parent"))
    return RegistrationForm(
        method=method,
        email=state.get(f"{prefix}email_{guardian_id}", ""),
        guardian_id=None if guardian_id in (None, NEW_GUARDIAN) else guardian_id,
        new_guardian=new_guardian,
        send_text=send_text,
        cell_phone=state.get(f"{prefix}phone_{guardian_id}", "") if send_text else "",
        cell_carrier=state.get(prefix + "carrier") if send_text else None,
        text_consent=bool(state.get(prefix + "text_consent")) if send_text else False,
        preferred_language=state.get(f"{prefix}language_{guardian_id}", DEFAULT_LANGUAGE),
        send_pin=not (method == "pin" and state.get(prefix + "no_pin")),
        verification_question=state.get(prefix + "question", "") if method == "question" else "",
        verification_answer=state.get(prefix + "answer", "") if method == "question" else "",
    )


def submit(submission: Submission) -> None:
    """Complete Registration (or Issue New PIN): validate, write in one transaction, keep the
    PIN for the confirmation; the confirmation then delivers the messages after the commit."""
    form = read_form(submission.prefix)
    problems = fields.check_form(form)
    if problems:
        st.session_state[ERRORS_KEY] = [(p.field, p.message) for p in problems]
        return
    siblings = chosen_siblings(submission.prefix)
    if siblings and submission.replacing_enrollment_id is None:
        register_with_siblings(submission, form, siblings, Confirmation, DONE_KEY, ERRORS_KEY,
                               fields.SUBMIT)
        return
    st.session_state.pop(FAMILY_KEY, None)
    common = dict(practice_id=submission.practice_id, patient_id=submission.patient_id,
                  form=form, actor=submission.actor, staff_user_id=submission.staff_user_id,
                  appointment_id=submission.appointment_id)
    try:
        with session_scope() as session:
            if submission.replacing_enrollment_id is not None:
                result = registration.issue_new_pin(
                    session, replacing_enrollment_id=submission.replacing_enrollment_id,
                    **common)
            else:
                result = registration.register_patient(session, **common)
    except PortalError as error:
        st.session_state[ERRORS_KEY] = [(error.field or fields.SUBMIT, error.message)]
        st.cache_data.clear()  # the status shown was stale: show the current one
        return
    st.session_state[DONE_KEY] = Confirmation(
        practice_id=submission.practice_id, patient_id=result.patient_id,
        enrollment_id=result.enrollment_id, patient_name=result.patient_name, pin=result.pin,
        pin_channel=result.pin_channel, email=result.email,
        text_recipient=result.text_recipient, expires_at=result.expires_at,
        letter=result.letter, message_ids=result.message_ids,
        text_refusal=result.text_refusal)
    st.cache_data.clear()


def show_errors(errors: dict[str, str], *fields: str) -> None:
    for field in fields:
        if field in errors:
            st.error(plain(errors[field]), icon=":material/error:")


def text_carrier(prefix: str, live: EnrollmentSummary | None, errors: dict[str, str]) -> None:
    """`Cell Carrier`, asked only without the SMS API: texts then go through the carrier's
    email-to-text gateway; closed gateways are flagged (and refused on Complete Registration)."""
    choices = carriers.list_carriers()
    keys = [choice.key for choice in choices]
    labels = {choice.key: choice.label for choice in choices}
    previous = live.cell_carrier if live and live.cell_carrier in labels else None
    carrier = st.selectbox(
        fields.CARRIER, keys, index=keys.index(previous) if previous else None,
        format_func=labels.get, placeholder="Choose the parent's carrier",
        key=prefix + "carrier",
        help="Required with Text Message: the text goes through the carrier's email-to-text "
             "gateway (no carrier is asked once the SMS service is set up).")
    if fields.CARRIER in errors:
        show_errors(errors, fields.CARRIER)
    elif carriers.carrier_warning(carrier):
        st.warning(carriers.carrier_warning(carrier), icon=":material/warning:")


def registration_form(context: PageContext, ctx: RegistrationContext, errors: dict[str, str],
                      *, new_pin: bool) -> None:
    """The seed's fields, each with its error (from the last press) right under it."""
    settings = get_settings()
    live = ctx.live_enrollment
    prefix = f"register_{ctx.patient.id}_"

    guardians = {guardian.id: guardian for guardian in ctx.guardians}
    options = list(guardians) + [NEW_GUARDIAN]
    default = live.guardian_id if live and live.guardian_id in guardians else options[0]

    def guardian_label(guardian_id: int) -> str:
        if guardian_id == NEW_GUARDIAN:
            return "Add a new guardian"
        guardian = guardians[guardian_id]
        return f"{guardian.name} ({guardian.relationship}) · {guardian.email or 'no email'}"

    guardian_id = st.selectbox(fields.GUARDIAN, options, index=options.index(default),
                               format_func=guardian_label, key=prefix + "guardian")
    show_errors(errors, fields.GUARDIAN)
    if guardian_id == NEW_GUARDIAN:
        first, last, relation = st.columns(3)
        with first:
            st.text_input(fields.GUARDIAN_FIRST, max_chars=100, key=prefix + "new_first")
            show_errors(errors, fields.GUARDIAN_FIRST)
        with last:
            st.text_input(fields.GUARDIAN_LAST, max_chars=100,
                          value=ctx.patient.last_name, key=prefix + "new_last")
            show_errors(errors, fields.GUARDIAN_LAST)
        relation.selectbox("Relationship", fields.RELATIONSHIPS, key=prefix + "new_rel")
    chosen = guardians.get(guardian_id)
    languages = list(supported_languages())
    known = chosen.preferred_language if chosen else DEFAULT_LANGUAGE
    st.selectbox(fields.LANGUAGE, languages,
                 index=languages.index(known) if known in languages else 0,
                 format_func=language_name, key=f"{prefix}language_{guardian_id}",
                 help="The language of the welcome email, texts, reminders, the PIN letter and "
                      "the activation page. Staff pages stay English.")
    show_errors(errors, fields.LANGUAGE)

    method_label = st.radio(
        fields.METHOD, [PIN_LABEL, QUESTION_LABEL],
        index=1 if live and live.method == "question" else 0, horizontal=True,
        key=prefix + "method")
    show_errors(errors, fields.METHOD)
    method = "question" if method_label == QUESTION_LABEL else "pin"
    if method == "question":
        st.text_input(fields.QUESTION, max_chars=fields.MAX_QUESTION,
                      value=(live.verification_question or "") if live else "",
                      placeholder="What is the name of your child's school?",
                      key=prefix + "question",
                      help="The parent is asked this on the activation page.")
        show_errors(errors, fields.QUESTION)
        st.text_input(fields.ANSWER, max_chars=200, key=prefix + "answer",
                      help="Only a salted hash of the answer is kept; case, spacing and "
                           "punctuation do not matter.")
        show_errors(errors, fields.ANSWER)

    # Issue New PIN for the same guardian: the address the last invitation went to comes first.
    own = live if live and live.guardian_id == guardian_id else None
    prefill_email = (own.email if own else "") or (chosen.email if chosen else "") or (
        live.email if live else "") or ""
    typed = st.text_input(fields.EMAIL, value=prefill_email, max_chars=254,
                          key=f"{prefix}email_{guardian_id}",
                          help="The parent uses this address to sign in to the portal.")
    show_errors(errors, fields.EMAIL)
    hint = email_hint(typed)
    if hint and fields.EMAIL not in errors:
        st.info(hint, icon=":material/spellcheck:")

    send_text = st.checkbox(fields.TEXT, value=bool(live and live.send_text),
                            key=prefix + "text", help="Also send the registration by text message.")
    if send_text:
        prefill_phone = (own.cell_phone if own else None) or (
            chosen.cell_phone if chosen else None) or (live.cell_phone if live else None)
        st.text_input("Cell phone number",
                      value=format_phone(prefill_phone, region=settings.phone_region),
                      max_chars=30, key=f"{prefix}phone_{guardian_id}",
                      placeholder="(617) 555-0123")
        show_errors(errors, fields.TEXT)
        st.checkbox(fields.TEXT_CONSENT, value=bool(live and live.send_text),
                    key=prefix + "text_consent",
                    help="The parent agreed to receive texts from the practice (required with "
                         "Text Message; stored with your name and the time).")
        show_errors(errors, fields.TEXT_CONSENT)
        if not settings.sms_api_configured:
            text_carrier(prefix, live, errors)
    do_not_send = st.checkbox(
        "Do not send PIN",
        value=bool(live and not live.send_pin and live.method == "pin"),
        disabled=method == "question", key=prefix + "no_pin",
        help="The PIN goes into no message; hand the parent the PIN letter.")
    if method == "pin":
        if do_not_send:
            st.caption("The PIN goes into no message: print the PIN letter after completing.")
        elif send_text:
            st.caption("The PIN goes by text message; the welcome email carries the link.")
        else:
            st.caption("The welcome email carries the link and the PIN.")
    if not new_pin:
        siblings_picker(context, ctx.patient.id, prefix)
        show_errors(errors, SIBLINGS)

    submission = Submission(
        practice_id=context.practice.id, staff_user_id=context.user.id,
        actor=context.user.username, patient_id=ctx.patient.id,
        appointment_id=ctx.appointment.id if ctx.appointment else None,
        replacing_enrollment_id=live.id if new_pin else None, prefix=prefix)
    st.button("Issue New PIN" if new_pin else fields.SUBMIT, type="primary",
              key=prefix + "submit", on_click=submit, args=(submission,))
    show_errors(errors, fields.SUBMIT)
