"""Activate Portal Account: the public page the welcome email and the PIN letter lead to.

Public on purpose: it never calls require_page, and works signed out or signed in."""

import streamlit as st

from services import activation
from services.activation_messages import PIN_SOURCES
from services.db import session_scope
from services.errors import PortalError
from ui.client import client_key
from ui.context import show_error
from ui.layout import keyboard_hints, narrow_page
from ui.text import plain

DONE_KEY = "_activation_done"  # token -> the confirmation to show after a success
NO_LINK = (
    "To activate your portal account, open the link in the welcome email from your practice or "
    "scan the QR code on your PIN letter. If you have neither, call your practice and ask for "
    "a PIN."
)


def show_confirmation(done: dict) -> None:
    st.success(plain(done["message"]), icon=":material/check_circle:")
    practice, email = plain(done["practice"]), plain(done["email"])
    url = done.get("sign_in_url") or ""
    at = f" at [{plain(url)}]({url})" if url else ""
    used = ("- This link has now been used and will not work again." if done.get("method")
            == "question" else "- The PIN has now been used and will not work again; you do "
            "not need to keep it.")
    st.markdown(
        f"""**What happens next**

- Sign in to the {practice} patient portal{at} with **{email}** and the
  password you just chose.
{used}
- Another child at {practice}? Open the link in that child's own welcome email (or scan
  the QR code on that child's letter) and choose **I already have an account**."""
    )


narrow_page()
st.title("Activate Portal Account")

practice_param = str(st.query_params.get("practice", "")).strip()
token = str(st.query_params.get("token", "")).strip()
link = None
if not practice_param.isdigit() or not token:
    st.info(NO_LINK, icon=":material/mail:")
elif token in st.session_state.get(DONE_KEY, {}):
    show_confirmation(st.session_state[DONE_KEY][token])
else:
    try:
        with session_scope(read_only=True) as session:
            link = activation.describe_link(
                session, practice_id=int(practice_param), link_token=token
            )
    except PortalError as error:
        show_error(error)
    else:
        st.caption(link.practice_name)
        if link.refusal:
            st.error(link.refusal, icon=":material/block:")
            link = None

if link is not None:
    existing = st.checkbox(
        "I already have an account",
        key="existing_account",
        help="You activated an account for a brother or sister: add this child to it.",
    )
    pin = date_of_birth = answer = repeat = None
    with st.form("activate", enter_to_submit=True):
        if link.method == "question":
            st.markdown(f"**Verification Question:** {plain(link.question or '')}")
            answer = st.text_input("Answer", key="answer", autocomplete="off")
        else:
            st.markdown(PIN_SOURCES.get(link.pin_source or "", PIN_SOURCES["email"]))
            pin = st.text_input(
                "PIN", key="pin", max_chars=24, placeholder="for example 7KQ4M-9TXR2",
                autocomplete="off",
                help="Upper or lower case, with or without the dash: both work.",
            )
        date_of_birth = st.date_input(
            "Child's date of birth", key="date_of_birth", value=None,
            min_value=link.earliest_birth_date, max_value=link.latest_birth_date,
            format="MM/DD/YYYY",
        )
        st.markdown("**Your existing portal account**" if existing
                    else "**Your portal login**")
        email = st.text_input("Email address", key="email", autocomplete="email")
        password = st.text_input(
            "Password", type="password", key="password",
            autocomplete="current-password" if existing else "new-password",
            help=None if existing else (
                f"At least {activation.MIN_PARENT_PASSWORD} characters, not containing your "
                "email address."
            ),
        )
        if not existing:
            repeat = st.text_input("Repeat password", type="password", key="repeat_password",
                                   autocomplete="new-password")
        submitted = st.form_submit_button(
            "Add this child to my account" if existing else "Activate account", type="primary"
        )

    if submitted:
        try:
            with session_scope() as session:
                result = activation.activate_account(
                    session, practice_id=link.practice_id, link_token=token,
                    client_key=client_key(), email=email, password=password,
                    repeat_password=repeat, existing_account=existing, pin=pin,
                    date_of_birth=date_of_birth, answer=answer,
                )
        except PortalError as error:
            show_error(error)
        else:
            if result.status_changed:
                # Activated or just locked: the staff pages' cached badges are stale now.
                # (Only these two clear it, so wrong guesses cannot keep flushing the cache.)
                st.cache_data.clear()
            if result.activated:
                st.session_state.setdefault(DONE_KEY, {})[token] = {
                    "message": result.message,
                    "email": result.account_email,
                    "practice": link.practice_name,
                    "method": link.method,
                    "sign_in_url": link.sign_in_url,
                }
                st.rerun()
            st.error(result.message, icon=":material/error:")

keyboard_hints()
