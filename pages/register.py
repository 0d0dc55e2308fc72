"""Register Patient: the seed's form, opened from a Dashboard row (`?appointment=<id>`) or by
searching a patient. Shows who is registered, their portal status and history; completes the
registration, shows the PIN once and offers the PIN letter; resends, issues a new PIN or marks
the family declined."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass, replace

import pandas as pd
import streamlit as st

from services import carriers, notifications, permissions, registration
from services.ages import age_in_years
from services.db import session_scope
from services.errors import InvalidInput, NotFound, PortalError
from services.letters import PinLetter, render_pin_letter
from services.registration import NewGuardian, RegistrationContext, RegistrationForm
from services.settings import get_settings
from services.status import STATUS_MEANINGS, PortalStatus
from services.validation import format_phone
from ui.context import PageContext, require_page, show_error

CACHE_TTL_SECONDS = 10
DONE_KEY = "_register_done"  # the last completed registration: the PIN lives only here
FLASH_KEY = "_register_flash"
ERRORS_KEY = "_register_errors"  # (field, message) pairs from the last press
NEW_GUARDIAN = -1
PIN_LABEL, QUESTION_LABEL = "PIN", "Verification Question"
BADGE_COLORS = {
    PortalStatus.not_registered: "gray",
    PortalStatus.invited: "blue",
    PortalStatus.pin_expired: "orange",
    PortalStatus.locked: "red",
    PortalStatus.active: "green",
    PortalStatus.declined: "violet",
}
ACTIONS = {
    "registration": "Registered",
    "pin_issued": "PIN issued",
    "pin_voided": "PIN voided",
    "verification_question_set": "Verification question set",
    "letter_downloaded": "PIN letter downloaded",
    "message_sent": "Message sent",
    "message_failed": "Message failed",
    "message_requeued": "Message queued again",
    "invitation_resent": "Invitation resent",
    "declined": "Declined",
}


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
    letter_pdf: bytes | None = None
    delivery: str | None = None  # None: not attempted yet
    delivery_ok: bool = False


def plain(text: str) -> str:
    """Text shown as typed inside a markdown line: the inline markup characters escaped."""
    return "".join("\\" + ch if ch in "\\`*_[]<>|~$:" else ch for ch in str(text))


def local(moment: dt.datetime | None, timezone: str, pattern: str = "%b %d, %Y %I:%M %p") -> str:
    if moment is None:
        return ""
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).strftime(pattern)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def load_context(practice_id: int, appointment_id: int | None,
                 patient_id: int | None) -> RegistrationContext:
    with session_scope(read_only=True) as session:
        return registration.get_registration_context(
            session, practice_id=practice_id, appointment_id=appointment_id,
            patient_id=patient_id)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def find_patients(practice_id: int, query: str) -> list[registration.PatientMatch]:
    with session_scope(read_only=True) as session:
        return registration.search_patients(session, practice_id=practice_id, query=query)


def deliver_now(message_ids: tuple[int, ...]) -> tuple[str, bool]:
    """Send this registration's messages right after the commit; say what happened."""
    try:
        with session_scope() as session:
            report = notifications.send_due_messages(session, message_ids=message_ids)
    except Exception:  # noqa: BLE001 - the registration is saved; the outbox retries delivery
        return ("The messages are saved in the outbox and will be sent by the next "
                "send-outbox run.", False)
    if report.sent == len(message_ids):
        return "Sent.", True
    if report.sent == 0 and report.retrying == 0 and report.failed == 0:
        return ("Waiting in the outbox: no mail server is configured yet. An administrator "
                "can see it on the Outbox page; it goes out once SMTP is set up.", False)
    # The mail server's own words stay on the admin's Outbox page, not on the front desk's.
    return (f"{report.sent} of {len(message_ids)} sent; the rest could not be sent yet. They "
            "stay in the outbox and are retried automatically; an administrator can see why "
            "on the Outbox page.", False)


def flash(kind: str, message: str) -> None:
    st.session_state[FLASH_KEY] = (kind, message)


def show_flash() -> None:
    kind, message = st.session_state.pop(FLASH_KEY, (None, None))
    if kind:
        getattr(st, kind)(message)


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


# --- who is being registered -----------------------------------------------------------------


def choose_patient(context: PageContext) -> int | None:
    """Search by name or MRN when no appointment was given; the choice goes in the URL."""
    chosen = st.query_params.get("patient")
    if chosen and chosen.isdigit():
        return int(chosen)
    st.caption("Open Register from a Dashboard row, or search for the patient here.")
    query = st.text_input("Search patient", placeholder="Last name, first name or MRN",
                          max_chars=80, key="register_search")
    if not query.strip():
        return None
    matches = find_patients(context.practice.id, query.strip())
    if not matches:
        st.info("No patient of this practice matches. Check the spelling or search by MRN.")
        return None
    for match in matches:
        left, right = st.columns([4, 1], vertical_alignment="center")
        left.markdown(f"**{plain(match.name)}** · born {match.date_of_birth:%m/%d/%Y} · "
                      f"MRN {plain(match.mrn)}")
        if right.button("Select", key=f"register_pick_{match.id}"):
            st.query_params["patient"] = str(match.id)
            st.rerun()
    return None


def show_patient(ctx: RegistrationContext) -> None:
    patient, tz = ctx.patient, ctx.practice.timezone
    st.subheader(plain(patient.name))
    today = dt.datetime.now(zoneinfo.ZoneInfo(tz)).date()
    born = patient.date_of_birth
    age = age_in_years(born, today=today)
    lines = [f"Date of birth **{born:%m/%d/%Y}** (age {age}) · MRN **{plain(patient.mrn)}**"]
    if ctx.appointment:
        visit = ctx.appointment
        lines.append(f"Appointment {local(visit.start_at, tz, '%a %b %d, %Y %I:%M %p')} · "
                     f"{plain(visit.provider)} · {plain(visit.location)} · "
                     f"{plain(visit.visit_type)}")
    color = BADGE_COLORS[ctx.status]
    lines.append(f"Portal status :{color}-badge[{ctx.status.value}] "
                 f"{STATUS_MEANINGS[ctx.status]}")
    st.markdown("  \n".join(lines))
    if ctx.history or ctx.events:
        with st.expander("Portal history"):
            if ctx.history:
                st.dataframe(pd.DataFrame([{
                    "Issued": local(item.issued_at, tz),
                    "By": item.issued_by or "",
                    "Method": PIN_LABEL if item.method == "pin" else QUESTION_LABEL,
                    "Status": item.portal_status,
                    "Email": item.email or "",
                    "Expires": local(item.expires_at, tz, "%b %d, %Y"),
                    "Note": item.declined_reason or (
                        f"voided {local(item.voided_at, tz)}" if item.voided_at else ""),
                } for item in ctx.history]), hide_index=True, width="stretch")
            if ctx.events:
                st.dataframe(pd.DataFrame([{
                    "When": local(event.at, tz),
                    "Who": event.actor,
                    "What": ACTIONS.get(event.action, event.action),
                } for event in ctx.events]), hide_index=True, width="stretch")


# --- the confirmation ------------------------------------------------------------------------


def show_confirmation(done: Confirmation, context: PageContext, timezone: str) -> None:
    if done.delivery is None:
        # Delivery runs here, after the registration's commit, once per registration.
        delivery, delivered = deliver_now(done.message_ids)
        done = replace(done, delivery=delivery, delivery_ok=delivered)
        st.session_state[DONE_KEY] = done
    if done.letter_pdf is None:
        done = replace(done, letter_pdf=render_pin_letter(done.letter))
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
                    f"**{local(done.expires_at, timezone, '%b %d, %Y')}**.")
    else:
        st.markdown(f"The parent answers the verification question to activate. The welcome "
                    f"email to {plain(done.email)} carries the link.")
    channels = "Welcome email and text message" if done.text_recipient else "Welcome email"
    (st.info if done.delivery_ok else st.warning)(f"{channels}: {done.delivery}")
    left, right = st.columns(2)
    left.download_button(
        "Print PIN", data=done.letter_pdf, file_name="pin-letter.pdf", mime="application/pdf",
        icon=":material/print:", type="primary" if done.pin_channel == "letter" else "secondary",
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
        send_pin=not (method == "pin" and state.get(prefix + "no_pin")),
        verification_question=state.get(prefix + "question", "") if method == "question" else "",
        verification_answer=state.get(prefix + "answer", "") if method == "question" else "",
    )


def submit(submission: Submission) -> None:
    """Complete Registration (or Issue New PIN): validate, write in one transaction, keep the
    PIN for the confirmation; the confirmation then delivers the messages after the commit."""
    form = read_form(submission.prefix)
    problems = registration.check_form(form)
    if problems:
        st.session_state[ERRORS_KEY] = [(p.field, p.message) for p in problems]
        return
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
        st.session_state[ERRORS_KEY] = [(error.field or registration.SUBMIT, error.message)]
        st.cache_data.clear()  # the status shown was stale: show the current one
        return
    st.session_state[DONE_KEY] = Confirmation(
        practice_id=submission.practice_id, patient_id=result.patient_id,
        enrollment_id=result.enrollment_id, patient_name=result.patient_name, pin=result.pin,
        pin_channel=result.pin_channel, email=result.email,
        text_recipient=result.text_recipient, expires_at=result.expires_at,
        letter=result.letter, message_ids=result.message_ids)
    st.cache_data.clear()


def show_errors(errors: dict[str, str], *fields: str) -> None:
    for field in fields:
        if field in errors:
            st.error(errors[field], icon=":material/error:")


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

    guardian_id = st.selectbox(registration.GUARDIAN, options, index=options.index(default),
                               format_func=guardian_label, key=prefix + "guardian")
    show_errors(errors, registration.GUARDIAN)
    if guardian_id == NEW_GUARDIAN:
        first, last, relation = st.columns(3)
        with first:
            st.text_input(registration.GUARDIAN_FIRST, max_chars=100, key=prefix + "new_first")
            show_errors(errors, registration.GUARDIAN_FIRST)
        with last:
            st.text_input(registration.GUARDIAN_LAST, max_chars=100,
                          value=ctx.patient.last_name, key=prefix + "new_last")
            show_errors(errors, registration.GUARDIAN_LAST)
        relation.selectbox("Relationship", registration.RELATIONSHIPS, key=prefix + "new_rel")
    chosen = guardians.get(guardian_id)

    method_label = st.radio(
        "Register Patient with", [PIN_LABEL, QUESTION_LABEL],
        index=1 if live and live.method == "question" else 0, horizontal=True,
        key=prefix + "method")
    show_errors(errors, "Register Patient with")
    method = "question" if method_label == QUESTION_LABEL else "pin"
    if method == "question":
        st.text_input(registration.QUESTION, max_chars=registration.MAX_QUESTION,
                      value=(live.verification_question or "") if live else "",
                      placeholder="What is the name of your child's school?",
                      key=prefix + "question",
                      help="The parent is asked this on the activation page.")
        show_errors(errors, registration.QUESTION)
        st.text_input(registration.ANSWER, max_chars=200, key=prefix + "answer",
                      help="Only a salted hash of the answer is kept; case, spacing and "
                           "punctuation do not matter.")
        show_errors(errors, registration.ANSWER)

    prefill_email = (chosen.email if chosen else "") or (live.email if live else "") or ""
    st.text_input(registration.EMAIL, value=prefill_email, max_chars=254,
                  key=f"{prefix}email_{guardian_id}",
                  help="The parent uses this address to sign in to the portal.")
    show_errors(errors, registration.EMAIL)

    send_text = st.checkbox(registration.TEXT, value=bool(live and live.send_text),
                            key=prefix + "text", help="Also send the registration by text message.")
    if send_text:
        prefill_phone = (chosen.cell_phone if chosen else None) or (
            live.cell_phone if live else None)
        st.text_input("Cell phone number",
                      value=format_phone(prefill_phone, region=settings.phone_region),
                      max_chars=30, key=f"{prefix}phone_{guardian_id}",
                      placeholder="(617) 555-0123")
        show_errors(errors, registration.TEXT)
        choices = carriers.list_carriers()
        keys = [choice.key for choice in choices]
        labels = {choice.key: choice.label for choice in choices}
        previous = live.cell_carrier if live and live.cell_carrier in labels else None
        carrier = st.selectbox(
            registration.CARRIER, keys, index=keys.index(previous) if previous else None,
            format_func=labels.get, placeholder="Choose the parent's carrier",
            key=prefix + "carrier",
            help=("Optional: texts go through the SMS service." if settings.sms_api_configured
                  else "Required with Text Message: the text goes through the carrier's "
                       "email-to-text gateway."))
        if registration.CARRIER in errors:
            show_errors(errors, registration.CARRIER)
        elif carriers.carrier_warning(carrier) and not settings.sms_api_configured:
            st.warning(carriers.carrier_warning(carrier), icon=":material/warning:")

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

    submission = Submission(
        practice_id=context.practice.id, staff_user_id=context.user.id,
        actor=context.user.username, patient_id=ctx.patient.id,
        appointment_id=ctx.appointment.id if ctx.appointment else None,
        replacing_enrollment_id=live.id if new_pin else None, prefix=prefix)
    st.button("Issue New PIN" if new_pin else registration.SUBMIT, type="primary",
              key=prefix + "submit", on_click=submit, args=(submission,))
    show_errors(errors, registration.SUBMIT)


def resend(practice_id: int, patient_id: int, enrollment_id: int, actor: str) -> None:
    """Resend invitation: requeue or re-send the link, then deliver after the commit."""
    try:
        with session_scope() as session:
            resent = registration.resend_invitation(
                session, practice_id=practice_id, patient_id=patient_id,
                enrollment_id=enrollment_id, actor=actor)
    except PortalError as error:
        st.cache_data.clear()
        flash("error", error.message)
        return
    st.cache_data.clear()
    delivery, delivered = deliver_now(resent.message_ids)
    note = ("The original messages were not sent yet and go out now." if resent.requeued
            else "A new email with the activation link was sent; the PIN is not kept, so it is "
                 "not in it. If the parent lost the PIN, issue a new one.")
    flash("success" if delivered else "warning", f"Invitation resent. {note} {delivery}")


def decline(practice_id: int, patient_id: int, expected_enrollment_id: int | None,
            staff_user_id: int, actor: str, prefix: str, patient_name: str) -> None:
    """Mark declined, with the reason typed."""
    reason = st.session_state.get(prefix + "reason", "")
    try:
        with session_scope() as session:
            registration.decline_enrollment(
                session, practice_id=practice_id, patient_id=patient_id, reason=reason,
                actor=actor, staff_user_id=staff_user_id,
                expected_enrollment_id=expected_enrollment_id)
    except PortalError as error:
        st.session_state[ERRORS_KEY] = [(error.field or registration.REASON, error.message)]
        st.cache_data.clear()
        return
    st.cache_data.clear()
    flash("success", f"{patient_name} is marked declined: {' '.join(reason.split())}")


def invited_panel(context: PageContext, ctx: RegistrationContext) -> None:
    live = ctx.live_enrollment
    tz = ctx.practice.timezone
    st.info(f"Invited on {local(live.issued_at, tz)} by {live.issued_by or 'staff'}; the "
            f"{'PIN' if live.method == 'pin' else 'link'} works until "
            f"{local(live.expires_at, tz, '%b %d, %Y')}. Resend the invitation, issue a new PIN "
            "below, or mark the family declined.", icon=":material/mail:")
    st.button("Resend invitation", key=f"register_{ctx.patient.id}_resend", on_click=resend,
              args=(context.practice.id, ctx.patient.id, live.id, context.user.username))


def decline_panel(context: PageContext, ctx: RegistrationContext,
                  errors: dict[str, str]) -> None:
    prefix = f"register_{ctx.patient.id}_"
    with st.expander("Mark declined", expanded=registration.REASON in errors):
        st.text_input(registration.REASON, max_chars=registration.MAX_REASON,
                      placeholder="Prefers paper records", key=prefix + "reason")
        show_errors(errors, registration.REASON)
        st.button("Mark Declined", key=prefix + "decline", on_click=decline, args=(
            context.practice.id, ctx.patient.id,
            ctx.live_enrollment.id if ctx.live_enrollment else None, context.user.id,
            context.user.username, prefix, ctx.patient.name))


# --- the page ------------------------------------------------------------------------------

context = require_page(permissions.REGISTER)
st.title("Register Patient")
show_flash()

ctx: RegistrationContext | None = None
try:
    appointment_id = registration.parse_appointment_id(st.query_params.get("appointment"))
except InvalidInput as error:
    show_error(error)
    appointment_id = None
if appointment_id is not None:
    try:
        ctx = load_context(context.practice.id, appointment_id, None)
    except NotFound:
        # The same words whether it does not exist or belongs to another practice.
        st.error(f"Appointment {appointment_id} was not found in {context.practice.name}. If "
                 "it belongs to another of your practices, choose that practice in the "
                 "sidebar; otherwise open Register from the Dashboard or search for the "
                 "patient below.", icon=":material/search_off:")
if ctx is None:
    patient_id = choose_patient(context)
    if patient_id is None:
        st.stop()
    try:
        ctx = load_context(context.practice.id, None, patient_id)
    except PortalError as error:
        show_error(error)
        st.stop()

show_patient(ctx)
st.divider()

done = st.session_state.get(DONE_KEY)
if done is not None and done.patient_id == ctx.patient.id and \
        done.practice_id == context.practice.id:
    show_confirmation(done, context, ctx.practice.timezone)
    st.stop()
if done is not None:
    st.session_state.pop(DONE_KEY, None)  # another patient now: the old PIN leaves memory

errors = dict(st.session_state.pop(ERRORS_KEY, []))
status = ctx.status
if status == PortalStatus.active:
    st.success(f"{ctx.patient.name} already has portal access: no new registration is needed.",
               icon=":material/verified_user:")
    st.stop()

new_pin = status in (PortalStatus.invited, PortalStatus.pin_expired, PortalStatus.locked)
if status == PortalStatus.invited:
    invited_panel(context, ctx)
elif status in (PortalStatus.pin_expired, PortalStatus.locked):
    st.warning(f"{STATUS_MEANINGS[status]} Issuing a new PIN voids the old one.",
               icon=":material/lock_clock:")
elif status == PortalStatus.declined:
    st.info(f"The family declined portal access: {ctx.live_enrollment.declined_reason}. "
            "Completing the registration below invites them after all.",
            icon=":material/do_not_disturb_on:")

if new_pin:
    st.markdown("#### Issue new PIN")
registration_form(context, ctx, errors, new_pin=new_pin)
if status != PortalStatus.declined:
    decline_panel(context, ctx, errors)
