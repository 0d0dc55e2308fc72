"""Activate Portal Account: the public page the welcome email and the PIN letter lead to,
in the parent's language (the link's `lang`, or the switch at the top).

Public on purpose: it never calls require_page, and works signed out or signed in."""

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import streamlit as st

from services import activation
from services.activation_messages import pin_source_instruction
from services.db import session_scope
from services.errors import PortalError
from services.i18n import (
    DEFAULT_LANGUAGE,
    gettext_for,
    language_name,
    language_or_default,
    supported_languages,
)
from ui.client import client_key
from ui.context import show_error
from ui.layout import keyboard_hints, narrow_page
from ui.text import plain

DONE_KEY = "_activation_done"  # token -> the confirmation to show after a success


def choose_language() -> str:
    """The page's language: the link's `lang`, changed with the switch (kept in the URL)."""
    language = language_or_default(str(st.query_params.get("lang", "")))
    languages = list(supported_languages())
    _ = gettext_for(language)
    chosen = st.radio(
        _("Language"), languages, index=languages.index(language),
        format_func=language_name, horizontal=True, key="language",
        label_visibility="collapsed",
    )
    if chosen != language:
        if chosen == DEFAULT_LANGUAGE:
            del st.query_params["lang"]
        else:
            st.query_params["lang"] = chosen
        st.rerun()
    return language


def show_confirmation(done: dict) -> None:
    st.success(plain(done["message"]), icon=":material/check_circle:")
    values = {"practice": plain(done["practice"]), "email": plain(done["email"])}
    url = done.get("sign_in_url") or ""
    if url:
        values["link"] = f"[{plain(url)}]({url})"
        sign_in = _("Sign in to the %(practice)s patient portal at %(link)s with **%(email)s** "
                    "and the password you just chose.") % values
    else:
        sign_in = _("Sign in to the %(practice)s patient portal with **%(email)s** and the "
                    "password you just chose.") % values
    used = (_("This link has now been used and will not work again.")
            if done.get("method") == "question" else
            _("The PIN has now been used and will not work again; you do not need to keep "
              "the letter."))
    st.markdown(
        _("**What happens next**") + "\n\n"
        + "- " + sign_in + "\n"
        + "- " + used + "\n"
        + "- " + _("Another child at %(practice)s? Open the link in that child's own welcome "
                   "email (or scan the QR code on that child's letter) and choose **I already "
                   "have an account**.") % values
    )


narrow_page()  # before any element: the page's layout is set before it draws
language = choose_language()
_ = gettext_for(language)
st.title(_("Activate Portal Account"))

practice_param = str(st.query_params.get("practice", "")).strip()
token = str(st.query_params.get("token", "")).strip()
link = None
if not practice_param.isdigit() or not token:
    st.info(_("To activate your portal account, open the link in the welcome email from your "
              "practice or scan the QR code on your PIN letter. If you have neither, call your "
              "practice and ask for a PIN."), icon=":material/mail:")
elif token in st.session_state.get(DONE_KEY, {}):
    show_confirmation(st.session_state[DONE_KEY][token])
else:
    try:
        with session_scope(read_only=True) as session:
            link = activation.describe_link(
                session, practice_id=int(practice_param), link_token=token, language=language
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
        _("I already have an account"),
        key="existing_account",
        help=_("You activated an account for a brother or sister: add this child to it."),
    )
    pin = date_of_birth = answer = repeat = None
    with st.form("activate", enter_to_submit=True):
        if link.method == "question":
            label = _("Verification Question")
            st.markdown(f"**{label}:** {plain(link.question or '')}")
            answer = st.text_input(_("Answer"), key="answer", autocomplete="off")
        else:
            st.markdown(pin_source_instruction(link.pin_source, language,
                                               own_account=link.own_account))
            pin = st.text_input(
                "PIN", key="pin", max_chars=24,
                placeholder=_("for example %(pin)s") % {"pin": "7KQ4M-9TXR2"},
                autocomplete="off",
                help=_("Upper or lower case, with or without the dash: both work."),
            )
        date_of_birth = st.date_input(
            _("Your date of birth") if link.own_account else _("Child's date of birth"),
            key="date_of_birth", value=None,
            min_value=link.earliest_birth_date, max_value=link.latest_birth_date,
            format="MM/DD/YYYY",
        )
        st.markdown("**" + (_("Your existing portal account") if existing
                            else _("Your portal login")) + "**")
        email = st.text_input(_("Email address"), key="email", autocomplete="email")
        password = st.text_input(
            _("Password"), type="password", key="password",
            autocomplete="current-password" if existing else "new-password",
            help=None if existing else _(
                "At least %(length)s characters, not containing your email address."
            ) % {"length": activation.MIN_PARENT_PASSWORD},
        )
        if not existing:
            repeat = st.text_input(_("Repeat password"), type="password",
                                   key="repeat_password", autocomplete="new-password")
        submitted = st.form_submit_button(
            _("Add this child to my account") if existing else _("Activate account"),
            type="primary",
        )

    if submitted:
        try:
            with session_scope() as session:
                result = activation.activate_account(
                    session, practice_id=link.practice_id, link_token=token,
                    client_key=client_key(), email=email, password=password,
                    repeat_password=repeat, existing_account=existing, pin=pin,
                    date_of_birth=date_of_birth, answer=answer, language=language,
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
