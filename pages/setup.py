"""First-run setup: the terminal's token, the first administrator, then the demo practice."""

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import zoneinfo
from urllib.parse import urlsplit

import streamlit as st

from services import setup
from services.auth import add_membership
from services.db import session_scope
from services.demo import DEFAULT_PRACTICE, seed_demo
from services.errors import PortalError
from services.practices import normalize_portal_url
from ui.layout import narrow_page
from ui.text import plain

PUBLIC_ADDRESS = "Public address of this app"


def browser_address() -> str:
    """The address this browser reached setup at (scheme and host), for the public address."""
    parts = urlsplit(str(st.context.url or ""))
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


narrow_page()
st.title("Welcome to Practice Portal")
st.write(
    "No one can sign in yet. Create the first administrator with the one-time **setup token** "
    "printed in the terminal where the server was started (it is also saved in the data folder)."
)

with st.form("first_admin", enter_to_submit=True):
    token = st.text_input("Setup token", type="password")
    username = st.text_input("Username", placeholder="e.g. jsmith")
    name = st.text_input("Full name")
    email = st.text_input("Email")
    password = st.text_input("Password", type="password", help="At least 10 characters.")
    password_repeat = st.text_input("Repeat password", type="password")
    practice_name = st.text_input(
        "Practice name", help="Your practice. May stay empty when you load the demo practice."
    )
    public_address = st.text_input(
        PUBLIC_ADDRESS, value=browser_address(),
        help="Where parents reach this app: activation links, PIN letters and QR codes use "
             "it. Prefilled with the address this browser used; change it to the public one "
             "if that is localhost.")
    zones = sorted(zoneinfo.available_timezones())
    timezone = st.selectbox("Timezone", zones, index=zones.index("America/New_York"),
                            help="The practice's timezone, for the schedule and dates.")
    load_demo = st.checkbox("Load demo practice", value=True,
                            help="A synthetic practice with patients, appointments and "
                                 "enrollments, to try the app right away.")
    submitted = st.form_submit_button("Create administrator", type="primary")

if submitted:
    try:
        portal_url = (normalize_portal_url(public_address, field=PUBLIC_ADDRESS)
                      if public_address.strip() else None)
        with session_scope() as session:
            admin = setup.create_first_admin(
                session, token=token, username=username, name=name, email=email,
                password=password, password_repeat=password_repeat,
            )
            # Without the demo the administrator needs a practice to work in: one unit of
            # work, so a bad practice name leaves nothing behind.
            if practice_name.strip() or not load_demo:
                setup.create_first_practice(session, admin=admin, name=practice_name,
                                            timezone=timezone, portal_url=portal_url)
    except PortalError as error:
        st.error(plain(error.message))
        st.stop()
    setup.finish_setup()
    if load_demo:
        bar = st.progress(0.0, text="Loading demo practice…")
        with session_scope() as session:
            summary = seed_demo(
                session, practice_name=DEFAULT_PRACTICE, appointments=6000,
                progress=lambda fraction, message: bar.progress(min(fraction, 1.0), text=message),
                actor=admin.username, portal_url=portal_url,
            )
            add_membership(session, user_id=admin.id, practice_id=summary.practice_id)
        bar.progress(1.0, text=f"Demo practice ready: {summary.patients:,} patients, "
                               f"{summary.appointments:,} appointments.")
    st.success(f"Administrator {admin.username} created. Sign in to continue.")
    st.button("Go to sign in", type="primary", on_click=lambda: None)
