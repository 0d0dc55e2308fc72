"""The Dashboard's arrivals panel: today's arrived patients with no portal invitation first, each
with a Register link (same tab), and one click per visit to mark a family Arrived. It refreshes
itself every minute and reruns the whole page when arrivals or activations changed, so the desk
sees them without reloading."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import streamlit as st

from services import permissions
from services.arrivals import (
    EXPECTED_LIMIT,
    VisitToday,
    arrived_not_registered,
    changes_signature,
    expected_today,
    mark_arrived,
)
from services.dates import practice_today
from services.db import session_scope
from services.errors import PortalError
from ui.context import PageContext
from ui.schedule_table import REGISTER_PAGE, register_query
from ui.text import plain

REFRESH_SECONDS = 60
# The panel's reads are shared this long: far below the refresh, and this desk's own changes
# (Arrived here, a registration) clear them at once.
READ_TTL_SECONDS = 5
PICK = "_arrivals_pick"
SIGNATURE = "_arrivals_signature"
NOTICE = "_arrivals_notice"


@st.cache_data(ttl=READ_TTL_SECONDS, show_spinner=False)
def load_arrivals(practice_id: int, day: dt.date, location_id: int | None
                  ) -> tuple[list[VisitToday], list[VisitToday], tuple]:
    """What the panel shows and its change signature, read together and shared by the desks
    for a few seconds (every Dashboard run draws the panel)."""
    with session_scope(read_only=True) as session:
        waiting = arrived_not_registered(session, practice_id=practice_id, day=day,
                                         location_id=location_id)
        expected = expected_today(session, practice_id=practice_id, day=day,
                                  location_id=location_id)
        signature = changes_signature(session, practice_id=practice_id, day=day)
    return waiting, expected, signature


def _arrive(context: PageContext, on_change: Callable[[], None]) -> None:
    appointment_id = st.session_state.get(PICK)
    st.session_state[PICK] = None
    if appointment_id is None:
        return
    try:
        with session_scope() as session:
            mark_arrived(session, practice_id=context.practice.id,
                         appointment_id=appointment_id, actor=context.user.username)
    except PortalError as error:
        st.session_state[NOTICE] = ("error", error.message)
        return
    st.session_state[NOTICE] = ("success", "Marked Arrived.")
    load_arrivals.clear()
    on_change()


@st.fragment(run_every=REFRESH_SECONDS)
def arrivals_panel(context: PageContext, *, location_id: int | None,
                   on_change: Callable[[], None]) -> None:
    """Arrived-not-registered first with a prompt, then today's visits to mark Arrived."""
    practice = context.practice
    today = practice_today(practice.timezone)
    waiting, expected, signature = load_arrivals(practice.id, today, location_id)
    previous = st.session_state.get(SIGNATURE)
    st.session_state[SIGNATURE] = signature
    if previous is not None and previous != signature:
        on_change()
        st.rerun(scope="app")

    can_register = permissions.can_open(context.user.role, permissions.REGISTER)
    if waiting:
        lines = [f"- {plain(visit.label)}" for visit in waiting]
        st.warning(f"**{len(waiting)} arrived and not registered**: register them while the "
                   "family is here.\n" + "\n".join(lines), icon=":material/directions_walk:")
        if can_register:
            # Real links (Tab and Enter reach them) that open Register Patient in this tab.
            with st.container(horizontal=True, key="arrivals_register"):
                for visit in waiting:
                    st.page_link(REGISTER_PAGE, label=f"Register {visit.patient_name}",
                                 icon=":material/person_add:",
                                 query_params=register_query(visit.appointment_id,
                                                             practice.id))
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        getattr(st, notice[0])(notice[1])
    if can_register and expected:
        by_id = {visit.appointment_id: visit.label for visit in expected}
        st.pills("Mark arrived (one click per family at the desk)", list(by_id), key=PICK,
                 format_func=by_id.get, selection_mode="single",
                 on_change=_arrive, args=(context, on_change),
                 help=f"Still-Scheduled visits by time: the next {EXPECTED_LIMIT} from two hours "
                      "ago on (earlier ones when fewer remain). Arrived families move to the "
                      "prompt above. With the keyboard: Tab to the first visit, arrow keys to "
                      "the family, Enter.")
