"""Practice Settings (admins): the practice's name, timezone, portal URL, PIN lifetime, minor
age limit and contact details; its holidays, locations and providers. The service validates
each field and audits every change: services/practice_settings.py."""

from __future__ import annotations

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import zoneinfo

import pandas as pd
import streamlit as st

from models.public import PracticeSettings
from services import permissions, practice_settings
from services.dates import date_text
from services.db import session_scope
from services.errors import PortalError
from services.settings import get_settings
from ui.context import apply_change, require_page, show_error
from ui.text import show_flash

ROUND_KEY = "_practice_round"  # bumped after a success so that the forms start empty again


@st.cache_resource
def timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def load_settings(user_id: int, practice_id: int) -> PracticeSettings:
    with session_scope(read_only=True) as session:
        return practice_settings.get_practice_settings(session, actor_id=user_id,
                                                       practice_id=practice_id)


def run(action, success: str) -> None:
    """Run one change through the shared unit-of-work helper."""
    apply_change(action, success, page_key="practice")


def named_table(rows, label: str) -> None:
    if rows:
        st.dataframe(pd.DataFrame({label: [row.name for row in rows]}), hide_index=True)
    else:
        st.info(f"No {label.lower()}s yet.")


context = require_page(permissions.PRACTICE_SETTINGS)
actor_id, practice_id = context.user.id, context.practice.id
st.title("Practice Settings")
show_flash("practice")
try:
    settings = load_settings(actor_id, practice_id)
except PortalError as error:
    show_error(error)
    st.stop()
practice = settings.practice
round_ = st.session_state.get(ROUND_KEY, 0)

practice_tab, reminders_tab, holidays_tab, locations_tab, providers_tab = st.tabs(
    ["Practice", "Reminders", "Holidays", "Locations", "Providers"])

with practice_tab, st.form(f"practice_{round_}"):
    left, right = st.columns(2)
    name = left.text_input("Practice name", value=practice.name)
    zones = timezones()
    timezone = right.selectbox(
        "Timezone", zones, index=zones.index(practice.timezone) if practice.timezone in zones
        else 0, help="Appointment times are shown and imported in this timezone.")
    portal_url = left.text_input(
        "Portal URL", value=practice.portal_url,
        help="The address parents open to activate their account (the link in the letters).")
    sign_in_url = right.text_input(
        practice_settings.SIGN_IN_ADDRESS, value=practice.portal_sign_in_url,
        help="Where parents sign in to the patient portal once activated; shown to them as "
             "their next step.")
    pin_lifetime = left.number_input("PIN lifetime (days)", min_value=1, max_value=365,
                                      value=practice.pin_lifetime_days, step=1)
    minor_age = right.number_input(
        "Minor age limit", min_value=1, max_value=30, value=practice.minor_age_limit, step=1,
        help="Patients younger than this are minors whose parents hold portal access.")
    retention = right.number_input(
        "Audit retention (years)", min_value=6, max_value=100,
        value=practice.audit_retention_years, step=1,
        help="Audit events are kept at least this long (HIPAA: 6 years); `manage.py "
             "export-audit --prune` removes only older ones, after archiving them.")
    confidential = left.number_input(
        "Confidential age", min_value=0, max_value=30, value=practice.confidential_age or 0,
        step=1, help="From this age parent access is limited and the adolescent may be invited "
                     "in their own name; 0 turns it off.")
    phone = right.text_input("Phone", value=practice.phone)
    email = left.text_input("Email", value=practice.email)
    address = right.text_area("Address", value=practice.address, height=80)
    if st.form_submit_button("Save practice settings", type="primary"):
        run(lambda s: practice_settings.update_practice(
            s, actor_id=actor_id, practice_id=practice_id, name=name, timezone=timezone,
            portal_url=portal_url, pin_lifetime_days=pin_lifetime, minor_age_limit=minor_age,
            audit_retention_years=retention, phone=phone, email=email, address=address,
            confidential_age=confidential or None,
            portal_sign_in_url=sign_in_url,
            phone_region=get_settings().phone_region), "Saved the practice settings.")

with reminders_tab, st.form(f"reminders_{round_}"):
    st.caption("Invited parents who have not activated get a reminder email (and a text when "
               "they agreed to texts) in their language, with the link only. Never after "
               "activation, decline, a new PIN or an opt-out, and never twice for a point.")
    left, right = st.columns(2)
    remind_after = left.text_input(
        "Remind after (days)", value=practice.remind_after_days.replace(",", ", "),
        help="Days after the invitation, separated by commas (e.g. 3, 10); empty: none.")
    remind_before = right.number_input(
        "Remind before PIN expiry (days)", min_value=0, max_value=60,
        value=practice.remind_before_expiry_days, step=1, help="0: no such reminder.")
    if st.form_submit_button("Save reminder settings", type="primary"):
        run(lambda s: practice_settings.update_reminder_settings(
            s, actor_id=actor_id, practice_id=practice_id, remind_after=remind_after,
            remind_before_expiry=remind_before), "Saved the reminder settings.")

with holidays_tab:
    st.caption("Days the practice is closed: they do not count as business days.")
    if settings.holidays:
        st.dataframe(pd.DataFrame({"Date": [date_text(h.day) for h in settings.holidays],
                                   "Name": [h.name for h in settings.holidays]}),
                     hide_index=True)
    else:
        st.info("No holidays yet.")
    with st.form(f"add_holiday_{round_}"):
        left, right = st.columns(2)
        day = left.date_input("Date", value=None, format="MM/DD/YYYY")
        holiday_name = right.text_input("Holiday name")
        if st.form_submit_button("Add holiday"):
            run(lambda s: practice_settings.add_holiday(
                s, actor_id=actor_id, practice_id=practice_id, day=day, name=holiday_name),
                f"Added the holiday on {date_text(day)}." if day else "")
    if settings.holidays:
        holidays = {h.id: h for h in settings.holidays}
        with st.form(f"remove_holiday_{round_}"):
            chosen = st.selectbox(
                "Holiday", list(holidays),
                format_func=lambda i: f"{date_text(holidays[i].day)} {holidays[i].name}".strip())
            if st.form_submit_button("Remove holiday"):
                run(lambda s: practice_settings.remove_holiday(
                    s, actor_id=actor_id, practice_id=practice_id, holiday_id=chosen),
                    f"Removed the holiday on {date_text(holidays[chosen].day)}.")


def named_forms(tab, rows, label: str, add, rename) -> None:
    """A list with an Add form and a Rename form, for locations and for providers."""
    with tab:
        named_table(rows, label)
        with st.form(f"add_{label}_{round_}"):
            new_name = st.text_input(f"{label} name")
            if st.form_submit_button(f"Add {label.lower()}"):
                run(lambda s: add(s, actor_id=actor_id, practice_id=practice_id,
                                  name=new_name), f"Added {label.lower()} {new_name.strip()}.")
        if rows:
            names = {row.id: row.name for row in rows}
            with st.form(f"rename_{label}_{round_}"):
                left, right = st.columns(2)
                chosen = left.selectbox(label, list(names), format_func=names.get)
                renamed = right.text_input(f"New {label.lower()} name")
                if st.form_submit_button(f"Rename {label.lower()}"):
                    run(lambda s: rename(s, chosen, renamed),
                        f"Renamed {names[chosen]} to {renamed.strip()}.")


named_forms(locations_tab, settings.locations, "Location", practice_settings.add_location,
            lambda s, row_id, new: practice_settings.rename_location(
                s, actor_id=actor_id, practice_id=practice_id, location_id=row_id, name=new))
named_forms(providers_tab, settings.providers, "Provider", practice_settings.add_provider,
            lambda s, row_id, new: practice_settings.rename_provider(
                s, actor_id=actor_id, practice_id=practice_id, provider_id=row_id, name=new))
