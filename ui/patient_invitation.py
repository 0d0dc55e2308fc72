"""Register Patient, for adolescents and young adults: the parent access level the invitation
will record, and `Invite the patient` (their own email or cell phone, their own PIN; for an
adolescent, their assent) with its confirmation. Service: services/adolescent_invitation.py."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import streamlit as st

from services import adolescent_invitation as invitation
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
from services.status import BADGE_NAMES, PortalStatus
from ui.context import PageContext
from ui.registration_form import ERRORS_KEY, deliver_now, record_download, show_errors
from ui.text import plain

DONE_KEY = "_patient_invitation_done"  # the last patient invitation: its PIN lives only here


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
    form = invitation.PatientInvitationForm(
        email=state.get(prefix + "email", ""), cell_phone=state.get(prefix + "phone", ""),
        assent=bool(state.get(prefix + "assent", False)),
        language=state.get(prefix + "language"))
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
    for name in ("email", "phone", "assent", "language"):
        state.pop(prefix + name, None)


def _confirmation(context: PageContext, ctx: RegistrationContext, done: Invited) -> None:
    result = done.result
    st.success(f"{plain(result.patient_name)} is invited to their own portal account "
               f"({result.access_level.value}).", icon=":material/check_circle:")
    st.markdown(f"### PIN: `{result.pin}`")
    where = (f"It is in the email to {plain(result.email)}." if result.email
             else "It was sent in no message: hand the patient the PIN letter.")
    st.markdown(f"Shown only on this screen. {where} Valid until "
                f"**{date_text(practice_day(result.expires_at, ctx.practice.timezone))}**. The "
                "patient activates with this PIN and their own date of birth.")
    (st.info if done.delivered else st.warning)(f"Email: {done.delivery}")
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


def patient_invitation_panel(context: PageContext, ctx: RegistrationContext,
                             errors: dict[str, str]) -> None:
    """`Invite the patient`, from the Confidential age (with assent) or at the minor age limit
    (in their own name); nothing for a younger patient."""
    access = access_of(ctx)
    if access == ParentAccess.full:
        return
    level = AccessLevel.young_adult if access == ParentAccess.ended else AccessLevel.adolescent
    done = st.session_state.get(DONE_KEY)
    st.markdown("#### The patient's own account")
    if done is not None and done.result.patient_id == ctx.patient.id and \
            done.practice_id == context.practice.id:
        _confirmation(context, ctx, done)
        return
    own = ctx.own_enrollment
    if own is not None:
        st.markdown(f"Own account :{BADGE_NAMES[ctx.own_status]}-badge[{ctx.own_status.value}] "
                    f"{own.access_level or ''} invitation of "
                    f"{date_text(practice_day(own.issued_at, ctx.practice.timezone))}"
                    f"{' to ' + plain(own.email) if own.email else ''}.")
        if ctx.own_status == PortalStatus.active:
            return
    st.caption(ACCESS_LEVEL_MEANINGS[level])
    prefix = f"patient_invitation_{ctx.patient.id}_"
    st.text_input(invitation.EMAIL, max_chars=254, key=prefix + "email",
                  placeholder="name@example.com",
                  help="The patient's own address, not a parent's.")
    show_errors(errors, invitation.EMAIL)
    st.text_input(invitation.PHONE, max_chars=20, key=prefix + "phone",
                  placeholder="(617) 555-0123",
                  help="Optional: kept on the invitation. Without an email, hand the patient "
                       "the PIN letter.")
    show_errors(errors, invitation.PHONE)
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
