"""Register Patient, for adolescents and young adults: the parent access level the invitation
will record, and `Invite the patient` (their own email or cell phone, a text with their consent,
their own PIN; for an adolescent, their assent) with its confirmation; a live invitation of
their own is resent or cancelled here. Services: services/adolescent_invitation.py and
services/invitation_resend.py."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import streamlit as st

from models import EnrollmentRecipient
from services import adolescent_invitation as invitation
from services import carriers
from services.adolescents import (
    ACCESS_LEVEL_MEANINGS,
    ACCESS_MEANINGS,
    AccessLevel,
    ParentAccess,
    parent_access,
)
from services.dates import date_text, practice_day
from services.db import session_scope
from services.errors import PortalError
from services.i18n import DEFAULT_LANGUAGE, language_name, supported_languages
from services.letters import render_pin_letter
from services.registration_context import RegistrationContext
from services.settings import get_settings
from services.status import BADGE_NAMES, PortalStatus
from services.validation import format_phone
from ui.context import PageContext
from ui.registration_form import (
    ERRORS_KEY,
    FLASH,
    deliver_now,
    record_download,
    resend_now,
    show_errors,
)
from ui.text import flash, plain

DONE_KEY = "_patient_invitation_done"  # the last patient invitation: its PIN lives only here
FORM_FIELDS = ("email", "phone", "assent", "language", "text", "text_consent", "carrier")


@dataclass(frozen=True)
class Invited:
    practice_id: int
    result: invitation.PatientInvitationResult
    delivery: str
    delivered: bool


def access_of(ctx: RegistrationContext) -> ParentAccess:
    """The parent's access to this patient today (the practice's Confidential age and limit)."""
    return parent_access(ctx.patient.date_of_birth, today=ctx.today,
                         confidential_age=ctx.practice.confidential_age,
                         minor_age_limit=ctx.practice.minor_age_limit)


def show_parent_access(ctx: RegistrationContext) -> None:
    """What the parent will get, before Complete Registration."""
    access = access_of(ctx)
    if access == ParentAccess.ended:
        return
    st.markdown(f"**Parent access: {access.value}** — {ACCESS_MEANINGS[access]}")


def show_age_limit(ctx: RegistrationContext) -> None:
    """At the minor age limit there is no parent form, only the patient's own invitation."""
    st.warning(f"{plain(ctx.patient.name)} is {ctx.practice.minor_age_limit} or older: a parent "
               "can no longer be invited (parent access ends at the practice's minor age "
               "limit). Invite the young adult in their own name below.",
               icon=":material/person:")


def _invite(context: PageContext, ctx: RegistrationContext, prefix: str) -> None:
    state = st.session_state
    send_text = bool(state.get(prefix + "text"))
    form = invitation.PatientInvitationForm(
        email=state.get(prefix + "email", ""), cell_phone=state.get(prefix + "phone", ""),
        assent=bool(state.get(prefix + "assent", False)),
        language=state.get(prefix + "language"), send_text=send_text,
        text_consent=send_text and bool(state.get(prefix + "text_consent")),
        cell_carrier=state.get(prefix + "carrier") if send_text else None)
    try:
        with session_scope() as session:
            result = invitation.invite_patient(
                session, practice_id=context.practice.id, patient_id=ctx.patient.id, form=form,
                actor=context.user.username, staff_user_id=context.user.id)
    except PortalError as error:
        state[ERRORS_KEY] = [(error.field or invitation.SUBMIT, error.message)]
        st.cache_data.clear()
        return
    st.cache_data.clear()
    delivery, delivered = deliver_now(result.message_ids) if result.message_ids else (
        "No email: hand the patient the PIN letter.", True)
    state[DONE_KEY] = Invited(practice_id=context.practice.id, result=result,
                              delivery=delivery, delivered=delivered)
    for name in FORM_FIELDS:
        state.pop(prefix + name, None)


def _confirmation(context: PageContext, ctx: RegistrationContext, done: Invited) -> None:
    result = done.result
    st.success(f"{plain(result.patient_name)} is invited to their own portal account "
               f"({result.access_level.value}).", icon=":material/check_circle:")
    st.markdown(f"### PIN: `{result.pin}`")
    phone = format_phone(result.cell_phone) if result.cell_phone else ""
    where = {
        "text": (f"It goes by text message to {phone}; the email to {plain(result.email or '')} "
                 "carries the link."),
        "email": f"It is in the email to {plain(result.email or '')}.",
        "letter": ("It was sent in no message: hand the patient the PIN letter."
                   + (f" The text message to {phone} carries the link." if result.texted
                      else "")),
    }[result.pin_channel]
    st.markdown(f"Shown only on this screen. {where} Valid until "
                f"**{date_text(practice_day(result.expires_at, ctx.practice.timezone))}**. The "
                "patient activates with this PIN and their own date of birth.")
    channels = " and ".join(name for name, used in (("Email", result.email),
                                                     ("text message", result.texted)) if used)
    (st.info if done.delivered else st.warning)(
        f"{(channels or 'Email').capitalize()}: {done.delivery}")
    left, right = st.columns(2)
    left.download_button(
        "Print the patient's PIN letter", data=functools.partial(render_pin_letter,
                                                                 result.letter),
        file_name="patient-pin-letter.pdf", mime="application/pdf", icon=":material/print:",
        on_click=record_download, key="patient_invitation_print",
        args=(done.practice_id, result.patient_id, result.enrollment_id, context.user.username))
    if right.button("Done", key="patient_invitation_done_button"):
        st.session_state.pop(DONE_KEY, None)  # the PIN leaves memory here
        st.rerun()


def _language_choice(ctx: RegistrationContext, prefix: str) -> None:
    """The languages with a catalog, as on the parent form; the family's language first chosen
    (the first guardian's, else English)."""
    languages = list(supported_languages())
    family = ctx.guardians[0].preferred_language if ctx.guardians else DEFAULT_LANGUAGE
    st.selectbox(invitation.LANGUAGE, languages,
                 index=languages.index(family) if family in languages else 0,
                 format_func=language_name, key=prefix + "language",
                 help="The language of the patient's welcome email, reminders, PIN letter and "
                      "activation page. The family's language is chosen at first.")


def _text_choice(prefix: str, errors: dict[str, str]) -> None:
    """`Text the patient`, as the parent form's Text Message: their consent, and the carrier
    when no SMS service is set up (a closed gateway is flagged, and refused on Invite)."""
    if not st.checkbox(invitation.TEXT, key=prefix + "text",
                       help="Also send the invitation by text message to the patient's cell "
                            "phone. With an email, the text carries the PIN and the email the "
                            "link; without one, the text carries the link."):
        return
    st.checkbox(invitation.TEXT_CONSENT, key=prefix + "text_consent",
                help="The patient agreed to receive texts from the practice (required to text "
                     "them; stored with your name and the time).")
    show_errors(errors, invitation.TEXT_CONSENT)
    if get_settings().sms_api_configured:
        return
    choices = carriers.list_carriers()
    labels = {choice.key: choice.label for choice in choices}
    carrier = st.selectbox(invitation.CARRIER, list(labels), index=None,
                           format_func=labels.get, placeholder="Choose the patient's carrier",
                           key=prefix + "carrier",
                           help="The text goes through the carrier's email-to-text gateway.")
    if invitation.CARRIER in errors:
        show_errors(errors, invitation.CARRIER)
    elif carriers.carrier_warning(carrier):
        st.warning(carriers.carrier_warning(carrier), icon=":material/warning:")


def _cancel(practice_id: int, patient_id: int, enrollment_id: int, actor: str,
            prefix: str) -> None:
    """Cancel the patient's own invitation, with the reason typed."""
    reason = st.session_state.get(prefix + "cancel_reason", "")
    try:
        with session_scope() as session:
            invitation.cancel_patient_invitation(
                session, practice_id=practice_id, patient_id=patient_id,
                enrollment_id=enrollment_id, reason=reason, actor=actor)
    except PortalError as error:
        st.session_state[ERRORS_KEY] = [(error.field or invitation.CANCEL_REASON,
                                         error.message)]
        st.cache_data.clear()
        return
    st.cache_data.clear()
    st.session_state.pop(prefix + "cancel_reason", None)
    flash(FLASH, "The patient's own invitation is cancelled: its PIN no longer works. They may "
                 "be invited again.")


def _live_own(context: PageContext, ctx: RegistrationContext, errors: dict[str, str],
              prefix: str) -> None:
    """The patient's invitation is live: where it went, Resend, Cancel."""
    own = ctx.own_enrollment
    sent_to = " and ".join(plain(value) for value in (
        own.email, format_phone(own.cell_phone) if own.send_text and own.cell_phone else None)
        if value)
    until = date_text(practice_day(own.expires_at, ctx.practice.timezone))
    st.caption(f"The PIN works until {until}."
               + (f" Resend sends the link again to {sent_to}." if sent_to else ""))
    args = (context.practice.id, ctx.patient.id, own.id, context.user.username)
    st.button("Resend the patient's invitation", key=prefix + "resend", on_click=resend_now,
              args=args, kwargs={"recipient": EnrollmentRecipient.patient},
              icon=":material/forward_to_inbox:")
    with st.expander(invitation.CANCEL, expanded=invitation.CANCEL_REASON in errors):
        st.text_input(invitation.CANCEL_REASON, max_chars=300, key=prefix + "cancel_reason",
                      placeholder="The patient does not want an account")
        show_errors(errors, invitation.CANCEL_REASON)
        st.button("Cancel the invitation", key=prefix + "cancel", on_click=_cancel,
                  args=(*args, prefix))


def _last_cancelled(ctx: RegistrationContext) -> str | None:
    """Why the patient's last own invitation was cancelled, when it was and none is live."""
    last = next((item for item in ctx.history if item.recipient == EnrollmentRecipient.patient),
                None)
    if ctx.own_enrollment is None and last is not None and last.voided_at and \
            last.declined_reason:
        return last.declined_reason
    return None


def patient_invitation_panel(context: PageContext, ctx: RegistrationContext,
                             errors: dict[str, str]) -> None:
    """`Invite the patient`, from the Confidential age (with assent) or at the minor age limit
    (in their own name); nothing for a younger patient."""
    access = access_of(ctx)
    if access == ParentAccess.full:
        return
    level = AccessLevel.young_adult if access == ParentAccess.ended else AccessLevel.adolescent
    done = st.session_state.get(DONE_KEY)
    st.markdown("### The patient's own account")  # h3 under the patient's name (h2)
    if done is not None and done.result.patient_id == ctx.patient.id and \
            done.practice_id == context.practice.id:
        _confirmation(context, ctx, done)
        return
    own = ctx.own_enrollment
    prefix = f"patient_invitation_{ctx.patient.id}_"
    if own is not None:
        st.markdown(f"Own account :{BADGE_NAMES[ctx.own_status]}-badge[{ctx.own_status.value}] "
                    f"{own.access_level or ''} invitation of "
                    f"{date_text(practice_day(own.issued_at, ctx.practice.timezone))}"
                    f"{' to ' + plain(own.email) if own.email else ''}.")
        if ctx.own_status == PortalStatus.active:
            return
        if ctx.own_status == PortalStatus.invited:
            _live_own(context, ctx, errors, prefix)
    cancelled = _last_cancelled(ctx)
    if cancelled:
        st.info(f"The patient's last invitation was cancelled: {plain(cancelled)}. They may be "
                "invited again.", icon=":material/cancel:")
    st.caption(ACCESS_LEVEL_MEANINGS[level])
    st.text_input(invitation.EMAIL, max_chars=254, key=prefix + "email",
                  placeholder="name@example.com",
                  help="The patient's own address, not a parent's.")
    show_errors(errors, invitation.EMAIL)
    st.text_input(invitation.PHONE, max_chars=20, key=prefix + "phone",
                  placeholder="(617) 555-0123",
                  help="Optional: kept on the invitation, and texted with the patient's "
                       "consent. Without an email, hand the patient the PIN letter.")
    show_errors(errors, invitation.PHONE)
    _text_choice(prefix, errors)
    _language_choice(ctx, prefix)
    show_errors(errors, invitation.LANGUAGE)
    if level == AccessLevel.adolescent:
        st.checkbox(invitation.ASSENT, key=prefix + "assent",
                    help="Ask the patient at the desk. Your name and the time are recorded.")
        show_errors(errors, invitation.ASSENT)
    show_errors(errors, invitation.SUBMIT)
    label = ("Invite the young adult" if level == AccessLevel.young_adult
             else "Invite the patient")
    st.button(label, key=prefix + "submit", icon=":material/person_add:",
              on_click=_invite, args=(context, ctx, prefix))
