"""A family in one form on Register Patient: the siblings listed with checkboxes (an Active one
shown, not offered), and, when any is ticked, Complete Registration enrolls them all through
services.family (one email listing the children, one family letter with every PIN)."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from services import family
from services.dates import date_text, practice_today
from services.db import session_scope
from services.errors import PortalError
from services.status import BADGE_NAMES
from ui.context import PageContext
from ui.text import plain

FAMILY_KEY = "_register_family"  # (name, PIN) of every child of the last family registration


def _pick_key(prefix: str, patient_id: int) -> str:
    return f"{prefix}sibling_{patient_id}"


@st.cache_data(ttl=10, show_spinner=False)
def load_siblings(practice_id: int, patient_id: int, day: dt.date) -> list[family.Sibling]:
    with session_scope(read_only=True) as session:
        return family.find_siblings(session, practice_id=practice_id, patient_id=patient_id,
                                    day=day)


def siblings_picker(context: PageContext, patient_id: int, prefix: str) -> None:
    """The siblings, each registrable one with a checkbox under `prefix`."""
    siblings = load_siblings(context.practice.id, patient_id,
                             practice_today(context.practice.timezone))
    if not siblings:
        return
    st.markdown("**Siblings**: tick each child to register in the same visit (a PIN each, one "
                "email and one family letter).")
    for sibling in siblings:
        label = f"{sibling.name}, born {date_text(sibling.date_of_birth)} ({sibling.why})"
        if sibling.can_register:
            st.checkbox(label, key=_pick_key(prefix, sibling.patient_id))
        else:
            st.markdown(f"{plain(label)} :{BADGE_NAMES[sibling.status]}-badge"
                        f"[{sibling.status.value}]")


def chosen_siblings(prefix: str) -> list[int]:
    """The ticked siblings' patient ids."""
    start = f"{prefix}sibling_"
    return [int(key[len(start):]) for key, value in st.session_state.items()
            if isinstance(key, str) and key.startswith(start) and value]


def register_with_siblings(submission, form, sibling_ids: list[int], confirmation_type,
                           done_key: str, errors_key: str, submit_field: str) -> None:
    """Complete Registration for the patient and the ticked siblings, in one transaction."""
    try:
        with session_scope() as session:
            result = family.register_family(
                session, practice_id=submission.practice_id, patient_id=submission.patient_id,
                sibling_ids=sibling_ids, form=form, actor=submission.actor,
                staff_user_id=submission.staff_user_id,
                appointment_id=submission.appointment_id)
    except PortalError as error:
        st.session_state[errors_key] = [(error.field or submit_field, error.message)]
        st.cache_data.clear()
        return
    first = result.children[0]
    st.session_state[FAMILY_KEY] = (first.patient_id, [(child.patient_name, child.pin)
                                                       for child in result.children])
    st.session_state[done_key] = confirmation_type(
        practice_id=submission.practice_id, patient_id=first.patient_id,
        enrollment_id=first.enrollment_id, patient_name=first.patient_name, pin=first.pin,
        pin_channel="letter", email=first.email, text_recipient=None,
        expires_at=first.expires_at, letter=first.letter, message_ids=(result.message_id,),
        family_letters=tuple(result.letters))
    for sibling_id in sibling_ids:
        st.session_state.pop(_pick_key(submission.prefix, sibling_id), None)
    st.cache_data.clear()


def show_family(done_patient_id: int) -> None:
    """Above the confirmation: every child of the family registration with its PIN."""
    patient_id, children = st.session_state.get(FAMILY_KEY) or (None, [])
    if patient_id != done_patient_id or len(children) < 2:
        return
    st.success(f"Registered together: {', '.join(plain(name) for name, _ in children)}. One "
               "welcome email lists every child; Print PIN gives one family letter with each "
               "child's PIN and QR code.", icon=":material/family_restroom:")
    st.markdown("\n".join(f"- {plain(name)}: PIN `{pin}`" for name, pin in children))
