"""Staff Users (admins): who signs in to this practice and with which role. Add a user, change
a role or practices, disable or enable, reset a password, lift a login lock, see and end a
user's open sessions. The service checks
the rules (the last administrator, yourself, your own practices) and audits every change:
services/staff_users.py."""

from __future__ import annotations

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import pandas as pd
import streamlit as st

from models import Role
from models.public import StaffDirectory, StaffUserPublic
from services import permissions, staff_users
from services.dates import moment_text
from services.db import session_scope
from services.errors import PortalError
from ui.context import apply_change, require_page, show_error
from ui.text import plain, show_flash

ROUND_KEY = "_staff_round"  # bumped after a success so that the forms start empty again
ROLES = [Role.staff.value, Role.supervisor.value, Role.admin.value]


def role_label(role: str) -> str:
    return staff_users.ROLE_LABELS.get(role, role)


def load_directory(user_id: int, practice_id: int) -> StaffDirectory:
    with session_scope(read_only=True) as session:
        return staff_users.get_staff_directory(session, actor_id=user_id, practice_id=practice_id)


def run(action, success: str) -> None:
    """Run one change through the shared unit-of-work helper."""
    apply_change(action, success, page_key="staff")


def status_of(user: StaffUserPublic) -> str:
    if user.disabled:
        return "Disabled"
    return "Locked" if user.locked else "Active"


context = require_page(permissions.STAFF_USERS)
actor_id, practice_id = context.user.id, context.practice.id
st.title("Staff Users")
st.caption(f"People who can sign in to **{plain(context.practice.name)}**. Changes take effect at "
           "their next page load; a disabled user is signed out.")
show_flash("staff")

try:
    directory = load_directory(actor_id, practice_id)
except PortalError as error:
    show_error(error)
    st.stop()
practice_names = {p.id: p.name for p in directory.practices}
round_ = st.session_state.get(ROUND_KEY, 0)

st.dataframe(
    pd.DataFrame(
        [[u.name, u.username, u.email, role_label(u.role), status_of(u), ", ".join(u.practices)]
         for u in directory.users],
        columns=["Name", "Username", "Email", "Role", "Status", "Practices"],
    ),
    hide_index=True, width="stretch",
)

st.header("Add a staff user")
with st.form(f"add_user_{round_}"):
    left, right = st.columns(2)
    username = left.text_input("Username", help="Letters, digits, dots, dashes, underscores.")
    name = right.text_input("Full name")
    email = left.text_input("Email")
    role = right.selectbox("Role", ROLES, format_func=role_label)
    password = left.text_input("Password", type="password",
                               help="At least 10 characters, not containing the username.")
    practices = right.multiselect("Practices", list(practice_names),
                                  default=[practice_id], format_func=practice_names.get)
    if st.form_submit_button("Add user", type="primary"):
        run(lambda s: staff_users.add_staff_user(
            s, actor_id=actor_id, practice_id=practice_id, username=username, name=name,
            email=email, role=role, password=password, practice_ids=practices),
            f"Added {username.strip().lower()}.")

if not directory.users:
    st.stop()

st.header("Change a staff user")
by_id = {u.id: u for u in directory.users}
chosen_id = st.selectbox("Staff user", list(by_id),
                         format_func=lambda i: f"{by_id[i].name} ({by_id[i].username})")
chosen = by_id[chosen_id]
is_self = chosen.id == actor_id
st.caption(f"{role_label(chosen.role)} · {status_of(chosen)} · "
           f"{chosen.failed_logins} failed sign-in(s) in a row")

with st.form(f"role_{chosen.id}_{round_}"):
    new_role = st.selectbox("Role", ROLES, index=ROLES.index(chosen.role),
                            format_func=role_label)
    new_practices = st.multiselect(
        "Practices", list(practice_names), format_func=practice_names.get,
        default=[p for p in chosen.practice_ids if p in practice_names],
        help="Only your own practices are listed; memberships elsewhere stay as they are.")
    if st.form_submit_button("Save role and practices"):
        run(lambda s: staff_users.update_staff_user(
            s, actor_id=actor_id, practice_id=practice_id, user_id=chosen.id, role=new_role,
            practice_ids=new_practices), f"Saved role and practices of {chosen.username}.")

left, right = st.columns(2)
if chosen.disabled:
    if left.button("Enable user"):
        run(lambda s: staff_users.set_user_disabled(
            s, actor_id=actor_id, practice_id=practice_id, user_id=chosen.id, disabled=False),
            f"Enabled {chosen.username}.")
elif left.button("Disable user", disabled=is_self,
                 help="You cannot disable yourself." if is_self else
                 "The user can no longer sign in; nothing of theirs is deleted."):
    run(lambda s: staff_users.set_user_disabled(
        s, actor_id=actor_id, practice_id=practice_id, user_id=chosen.id, disabled=True),
        f"Disabled {chosen.username}.")
if right.button("Unlock user", disabled=not (chosen.locked or chosen.failed_logins),
                help="Clear the lock after too many failed sign-ins."):
    run(lambda s: staff_users.unlock_user(s, actor_id=actor_id, practice_id=practice_id,
                                          user_id=chosen.id), f"Unlocked {chosen.username}.")

st.markdown(f"**Open sessions of {plain(chosen.username)}**")
try:
    with session_scope(read_only=True) as session:
        open_sessions = staff_users.list_user_sessions(
            session, actor_id=actor_id, practice_id=practice_id, user_id=chosen.id)
except PortalError as error:
    show_error(error)
    open_sessions = []
if open_sessions:
    zone = context.practice.timezone
    st.dataframe(pd.DataFrame(
        [[moment_text(s.created_at, zone), moment_text(s.last_seen_at, zone),
          moment_text(s.expires_at, zone),
          s.client.removeprefix("ip:") or "unknown"] for s in open_sessions],
        columns=["Signed in", "Last activity", "Ends at the latest", "Address"]),
        hide_index=True, width="stretch")
else:
    st.caption("No open sessions.")
if st.button("End sessions", disabled=not open_sessions,
             help="Sign this user out everywhere; open tabs show the sign-in form."):
    run(lambda s: staff_users.end_user_sessions(
        s, actor_id=actor_id, practice_id=practice_id, user_id=chosen.id),
        f"Ended the sessions of {chosen.username}.")

with st.form(f"password_{chosen.id}_{round_}"):
    st.markdown(f"**Reset the password of {plain(chosen.username)}**")
    new_password = st.text_input("New password", type="password")
    confirm = st.text_input("Confirm new password", type="password")
    if st.form_submit_button("Reset password"):
        if new_password != confirm:
            st.error("Confirm new password does not match New password: type it again.")
        else:
            run(lambda s: staff_users.reset_user_password(
                s, actor_id=actor_id, practice_id=practice_id, user_id=chosen.id,
                password=new_password),
                f"Set a new password for {chosen.username}; tell them in person or by phone.")
