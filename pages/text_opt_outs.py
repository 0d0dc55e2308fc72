"""Text Opt-Outs (admins): the numbers that replied STOP or asked not to be texted. No text
from the app goes to a number on this list, for any practice on this install."""

from __future__ import annotations

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import pandas as pd
import streamlit as st

from services import permissions, text_opt_out
from services.dates import date_text, practice_day
from services.db import session_scope
from ui.context import apply_change, require_page
from ui.text import plain, show_flash

PAGE_KEY = "text_opt_outs"


@st.cache_data(ttl=15, show_spinner=False)
def load_opt_outs() -> list[text_opt_out.OptOut]:
    with session_scope(read_only=True) as session:
        return text_opt_out.list_opt_outs(session)


context = require_page(permissions.TEXT_OPT_OUTS)
st.title("Text Opt-Outs")
st.caption("Cell numbers that replied STOP, or asked the practice not to be texted. No text "
           f"goes to them (at most {text_opt_out.TEXTS_PER_DAY} text a day and "
           f"{text_opt_out.TEXTS_PER_WEEK} a week go to any other number). The list covers "
           "every practice on this install.")
show_flash(PAGE_KEY)
actor = context.user.username
round_ = st.session_state.get(f"_{PAGE_KEY}_round", 0)

with st.form(f"add_opt_out_{round_}"):
    left, right = st.columns([1, 2])
    phone = left.text_input(text_opt_out.FIELD, placeholder="(617) 555-0123")
    note = right.text_input("Note", placeholder="e.g. replied STOP to the reminder")
    how = st.radio("How the parent asked", ["reply", "staff"], horizontal=True,
                   format_func=text_opt_out.SOURCES.get)
    if st.form_submit_button("Add to opt-out list"):
        apply_change(
            lambda session: text_opt_out.add_opt_out(session, phone=phone, actor=actor,
                                                     source=how, note=note),
            f"{phone.strip()} will get no more texts.", page_key=PAGE_KEY)

rows = load_opt_outs()
if not rows:
    st.info("No number has opted out of texts.")
else:
    st.dataframe(pd.DataFrame({
        "Cell phone": [row.shown_as for row in rows],
        "Since": [date_text(practice_day(row.opted_out_at, context.practice.timezone))
                  for row in rows],
        "How": [row.source for row in rows],
        "Recorded by": [row.recorded_by for row in rows],
        "Note": [row.note for row in rows],
    }), hide_index=True)
    with st.form(f"remove_opt_out_{round_}"):
        numbers = {row.phone: row.shown_as for row in rows}
        chosen = st.selectbox("Number that asked for texts again (replied START)",
                              list(numbers), format_func=numbers.get)
        if st.form_submit_button("Remove from opt-out list"):
            apply_change(
                lambda session: text_opt_out.remove_opt_out(session, phone=chosen, actor=actor),
                f"Texts may go to {plain(numbers[chosen])} again.", page_key=PAGE_KEY)
