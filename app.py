"""Practice Portal: page config, start-up, login gate, practice selector, navigation by role."""

from urllib.parse import urlsplit

import streamlit as st

from ui.imports import through_app

# Before any import of our code: a fresh server's first runs (several tabs reconnecting at once)
# must not import SQLAlchemy side by side, nor run in Streamlit's pages-folder mode (ui/imports.py).
through_app()

from ui.navigation import ACTIVATE_PATH, activate_page, staff_pages  # noqa: E402

# Signed-out pages (sign-in, setup, activation) are narrow forms from their first delta; staff
# pages turn wide once the run knows who is signed in (below). Starting wide and narrowing
# later left the sign-in form stretched now and then (a rerun cut between the two).
# The parents' Activate page stays narrow for a signed-in staff user too: decided from the URL,
# so the layout never changes during the run (a change mid-run raced the browser's easing).
_opening_activate = urlsplit(st.context.url or "").path.rstrip("/").endswith("/" + ACTIVATE_PATH)
st.set_page_config(page_title="Practice Portal", page_icon=":material/health_and_safety:",
                   layout="wide" if st.session_state.get("authentication_status")
                   and not _opening_activate else "centered")

from services import auth  # noqa: E402
from services.db import session_scope  # noqa: E402
from services.settings import (  # noqa: E402
    StartUpProblem,
    UploadLimitMismatch,
    get_settings,
)
from services.setup import ensure_setup_token, token_path  # noqa: E402
from ui.auth import (  # noqa: E402
    build_authenticator,
    current_user,
    drop_login_cookie,
    keep_login_cookie,
    login_form,
    logout_button,
    restore_from_cookie,
    watch_session,
)
from ui.context import (  # noqa: E402
    USER_KEY,
    forget_run_practices,
    practice_selector,
    practices_of,
)
from ui.layout import narrow_page, public_address_warning  # noqa: E402
from ui.startup import start_up  # noqa: E402


def first_run_token() -> None:
    token = ensure_setup_token()
    # Printed on every start while no user exists: the operator reads it in the terminal.
    if not st.session_state.get("_portal_token_printed"):
        print(f"Practice Portal first-run setup token: {token} (also in {token_path()})",
              flush=True)
        st.session_state["_portal_token_printed"] = True


try:
    start_up(get_settings().resolved_database_url)
except (StartUpProblem, UploadLimitMismatch) as error:
    st.error(str(error))
    st.stop()

forget_run_practices()
signed_in = bool(st.session_state.get("authentication_status"))
if not signed_in:
    # A signed-in session had a user; if it is gone, the sign-out below comes back here.
    with session_scope(read_only=True) as session:
        user_count = auth.count_users(session)
else:
    user_count = None

if user_count == 0:
    first_run_token()
    setup_page = st.Page("pages/setup.py", title="First-run setup", url_path="setup",
                         icon=":material/settings:")
    st.navigation([setup_page], position="hidden").run()
    st.stop()

authenticator = build_authenticator(signed_in=signed_in)
if not signed_in:
    restore_from_cookie(authenticator)

user = current_user(authenticator)  # the server-side session decides, on every run
if user is None:
    st.session_state.pop(USER_KEY, None)
    drop_login_cookie(authenticator)
    narrow_page()
    login_page = st.Page(lambda: login_form(authenticator), title="Sign in", url_path="login",
                         icon=":material/login:", default=True)
    st.navigation([login_page, activate_page()], position="hidden").run()
    st.stop()

st.session_state[USER_KEY] = user
keep_login_cookie(authenticator)
practice_selector(user)
navigation = st.navigation(staff_pages(user.role) + [activate_page()], position="top")
if navigation.url_path != ACTIVATE_PATH:
    st.set_page_config(layout="wide")  # staff pages (a no-op when the run started wide)
# The banner is for staff pages: the Activate page is the parents' page, even when an admin
# opens it to try a link.
if user.role == "admin" and navigation.url_path != ACTIVATE_PATH:
    public_address_warning([practice.id for practice in practices_of(user)])
with st.sidebar:
    st.divider()
    st.caption(f"Signed in as **{user.name}** ({user.role})")
logout_button(authenticator)
watch_session()
navigation.run()
