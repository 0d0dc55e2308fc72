"""Register Patient: the seed's form, opened from a Dashboard row (`?appointment=<id>`) or by
searching a patient. Shows who is registered, their portal status and history; completes the
registration (the form and its confirmation: ui/registration_form.py); resends, issues a new PIN
or marks the family declined. Services: registration, registration_context, outbox."""

from __future__ import annotations

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py


import pandas as pd
import streamlit as st

from models.registration import PatientMatch
from services import invitation_resend, permissions, registration, registration_context
from services import registration_form as fields
from services.adolescents import ParentAccess
from services.ages import age_in_years
from services.audit import action_label
from services.dates import date_text, moment_text, practice_day, practice_today
from services.db import session_scope
from services.email_typos import suggest_email
from services.errors import InvalidInput, NotFound, PortalError
from services.registration_context import RegistrationContext
from services.status import BADGE_NAMES, STATUS_MEANINGS, PortalStatus
from ui.context import PageContext, require_page, show_error
from ui.family import show_family
from ui.patient_invitation import (
    access_of,
    patient_invitation_panel,
    show_age_limit,
    show_parent_access,
)
from ui.registration_form import (
    DONE_KEY,
    ERRORS_KEY,
    FLASH,
    PIN_LABEL,
    QUESTION_LABEL,
    registration_form,
    resend_and_say,
    resend_now,
    show_confirmation,
    show_errors,
)
from ui.schedule_table import return_query
from ui.text import flash, plain, show_flash

CACHE_TTL_SECONDS = 10


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def load_context(practice_id: int, appointment_id: int | None,
                 patient_id: int | None) -> RegistrationContext:
    with session_scope(read_only=True) as session:
        return registration_context.get_registration_context(
            session, practice_id=practice_id, appointment_id=appointment_id,
            patient_id=patient_id)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def find_patients(practice_id: int, query: str) -> list[PatientMatch]:
    with session_scope(read_only=True) as session:
        return registration_context.search_patients(session, practice_id=practice_id, query=query)


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
        left.markdown(f"**{plain(match.name)}** · born {date_text(match.date_of_birth)} · "
                      f"MRN {plain(match.mrn)}")
        if right.button("Select", key=f"register_pick_{match.id}"):
            st.query_params["patient"] = str(match.id)
            st.rerun()
    return None


def show_patient(ctx: RegistrationContext) -> None:
    patient, tz = ctx.patient, ctx.practice.timezone
    st.header(plain(patient.name))
    today = practice_today(tz)
    born = patient.date_of_birth
    age = age_in_years(born, today=today)
    lines = [f"Date of birth **{date_text(born)}** (age {age}) · MRN **{plain(patient.mrn)}**"]
    if ctx.appointment:
        visit = ctx.appointment
        lines.append(f"Appointment {moment_text(visit.start_at, tz, weekday=True)} · "
                     f"{plain(visit.provider)} · {plain(visit.location)} · "
                     f"{plain(visit.visit_type)}")
    lines.append(f"Portal status :{BADGE_NAMES[ctx.status]}-badge[{ctx.status.value}] "
                 f"{STATUS_MEANINGS[ctx.status]}")
    failure = ctx.live_enrollment.delivery_failure if ctx.live_enrollment else None
    if failure:
        lines.append(f":red-badge[Delivery failed] {plain(failure)}")
    st.markdown("  \n".join(lines))
    if ctx.history or ctx.events:
        with st.expander("Portal history"):
            if ctx.history:
                st.dataframe(pd.DataFrame([{
                    "Issued": moment_text(item.issued_at, tz),
                    "By": item.issued_by or "",
                    "Method": PIN_LABEL if item.method == "pin" else QUESTION_LABEL,
                    "Status": item.portal_status,
                    "Email": item.email or "",
                    "Expires": date_text(practice_day(item.expires_at, tz)),
                    "Note": item.declined_reason or (
                        f"Voided {moment_text(item.voided_at, tz)}" if item.voided_at else ""),
                } for item in ctx.history]), hide_index=True, width="stretch")
            if ctx.events:
                st.dataframe(pd.DataFrame([{
                    "When": moment_text(event.at, tz),
                    "Who": event.actor,
                    "What": action_label(event.action),
                } for event in ctx.events]), hide_index=True, width="stretch")


# --- invited, declined ---------------------------------------------------------------------


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
        st.session_state[ERRORS_KEY] = [(error.field or fields.REASON, error.message)]
        st.cache_data.clear()
        return
    st.cache_data.clear()
    flash(FLASH, f"{patient_name} is marked declined: {' '.join(reason.split())}")


def correct_and_resend(practice_id: int, patient_id: int, enrollment_id: int, actor: str,
                       key: str) -> None:
    """Put the corrected address on the invitation, clear the failure, send the link again."""
    resend_and_say(lambda session: invitation_resend.correct_email_and_resend(
        session, practice_id=practice_id, patient_id=patient_id, enrollment_id=enrollment_id,
        email=st.session_state.get(key, ""), actor=actor),
        lambda resent: "Address corrected; the activation link was sent again.")


def failure_panel(context: PageContext, ctx: RegistrationContext) -> None:
    """The invitation did not reach the parent: say why, and offer to fix the address."""
    live = ctx.live_enrollment
    key = f"register_{ctx.patient.id}_corrected_email"
    st.error(f"Delivery failed: {live.delivery_failure}", icon=":material/unsubscribe:")
    suggestion = suggest_email(live.email)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.text_input("Corrected email address", value=suggestion or live.email or "",
                    max_chars=254, key=key,
                    help="Check the address with the parent; the PIN is not re-sent (only the "
                         "link is). If the PIN is lost, issue a new PIN instead.")
    right.button("Correct and resend", key=f"{key}_button", on_click=correct_and_resend,
                 args=(context.practice.id, ctx.patient.id, live.id, context.user.username, key))


def invited_panel(context: PageContext, ctx: RegistrationContext) -> None:
    live = ctx.live_enrollment
    tz = ctx.practice.timezone
    if live.delivery_failure:
        failure_panel(context, ctx)
    by = plain(live.issued_by or "staff")
    st.info(f"Invited on {moment_text(live.issued_at, tz)} by {by}; the "
            f"{'PIN' if live.method == 'pin' else 'link'} works until "
            f"{date_text(practice_day(live.expires_at, tz))}. Resend the invitation, issue a "
            "new PIN below, or mark the family declined.", icon=":material/mail:")
    st.button("Resend invitation", key=f"register_{ctx.patient.id}_resend", on_click=resend_now,
              args=(context.practice.id, ctx.patient.id, live.id, context.user.username))


def decline_panel(context: PageContext, ctx: RegistrationContext,
                  errors: dict[str, str]) -> None:
    prefix = f"register_{ctx.patient.id}_"
    with st.expander("Mark declined", expanded=fields.REASON in errors):
        st.text_input(fields.REASON, max_chars=fields.MAX_REASON,
                      placeholder="Prefers paper records", key=prefix + "reason")
        show_errors(errors, fields.REASON)
        st.button("Mark Declined", key=prefix + "decline", on_click=decline, args=(
            context.practice.id, ctx.patient.id,
            ctx.live_enrollment.id if ctx.live_enrollment else None, context.user.id,
            context.user.username, prefix, ctx.patient.name))


# --- the page ------------------------------------------------------------------------------

context = require_page(permissions.REGISTER)
st.title("Register Patient")
# The Dashboard's filters ride in its query string: back to the same list.
st.page_link("pages/dashboard.py", label="Back to Dashboard", icon=":material/arrow_back:",
             query_params=return_query())
show_flash(FLASH)

ctx: RegistrationContext | None = None
try:
    appointment_id = registration_context.parse_appointment_id(st.query_params.get("appointment"))
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
    show_family(done.patient_id)
    show_confirmation(done, context, ctx.practice.timezone)
    st.stop()
if done is not None:
    st.session_state.pop(DONE_KEY, None)  # another patient now: the old PIN leaves memory

errors = dict(st.session_state.pop(ERRORS_KEY, []))
if access_of(ctx) == ParentAccess.ended:
    show_age_limit(ctx)
    patient_invitation_panel(context, ctx, errors)
    st.stop()
status = ctx.status
if status == PortalStatus.active:
    st.success(f"{ctx.patient.name} already has portal access: no new registration is needed.",
               icon=":material/verified_user:")
    patient_invitation_panel(context, ctx, errors)
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
    st.markdown("### Issue new PIN")
show_parent_access(ctx)
registration_form(context, ctx, errors, new_pin=new_pin)
if status != PortalStatus.declined:
    decline_panel(context, ctx, errors)
st.divider()
patient_invitation_panel(context, ctx, errors)
