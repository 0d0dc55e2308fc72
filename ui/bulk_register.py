"""The Dashboard's `Register all`: for the current filters, a confirmation (how many, which
delivery, who is skipped and why), then a progress bar while services.bulk_registration invites
one patient per transaction, then a summary, the failures and one PDF of every letter."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from services.bulk_registration import BulkOutcome, plan_bulk, render_bulk_letters, run_bulk
from services.db import session_scope
from services.errors import PortalError
from services.schedule import ScheduleCriteria
from ui.context import PageContext, show_error
from ui.text import plain

STEP = "_bulk_register_step"  # None, "confirm" or "done"
RESULT = "_bulk_register_result"
LETTERS_FILE = "portal-letters.pdf"


def _set_step(step: str | None) -> None:
    st.session_state[STEP] = step
    if step is None:
        st.session_state.pop(RESULT, None)


def _confirm(context: PageContext, criteria: ScheduleCriteria,
             on_done: Callable[[], None]) -> None:
    try:
        with session_scope(read_only=True) as session:
            plan = plan_bulk(session, practice_id=context.practice.id, criteria=criteria)
    except PortalError as error:
        show_error(error)
        return
    with st.container(border=True):
        st.header("Register all")
        count = len(plan.candidates)
        if count:
            st.markdown(f"**{count:,} patient{'s' if count != 1 else ''}** in this list "
                        "will be invited, each with a PIN of their own.")
        else:
            st.markdown("Nobody in this list needs an invitation with a guardian email on file.")
        st.caption(plan.delivery)
        if plan.already_invited:
            st.caption(f"{plan.already_invited:,} already invited or active: left as they are.")
        if plan.skipped:
            reasons = "; ".join(f"{reason}: {n:,}" for reason, n in
                                plan.skipped_by_reason.items())
            with st.expander(f"{len(plan.skipped):,} will be skipped ({reasons})"):
                st.markdown("\n".join(f"- {plain(skip.patient_name)}: {skip.reason}"
                                      for skip in plan.skipped))
        left, right = st.columns(2)
        label = f"Invite {count:,} patient{'s' if count != 1 else ''}"
        go = left.button(label, type="primary", disabled=not count, key="bulk_register_go",
                         width="stretch")
        right.button("Cancel", key="bulk_register_cancel", on_click=_set_step, args=(None,),
                     width="stretch")
        if not go:
            return
        bar = st.progress(0.0, text="Starting…")

        def progress(done: int, total: int, name: str) -> None:
            bar.progress(done / total, text=f"{done:,} of {total:,}: {name}")

        outcome = run_bulk(plan, practice_id=context.practice.id, actor=context.user.username,
                           staff_user_id=context.user.id, on_progress=progress)
        st.session_state[RESULT] = (outcome, render_bulk_letters(outcome)
                                    if outcome.registered else None)
        st.session_state[STEP] = "done"
        on_done()
        st.rerun()


def _show_result(outcome: BulkOutcome, letters: bytes | None) -> None:
    with st.container(border=True):
        st.header("Register all: done")
        (st.warning if outcome.failed else st.success)(outcome.summary)
        if outcome.failed:
            st.markdown("Not registered (nothing was written for them):\n"
                        + "\n".join(f"- {plain(item.patient_name)}: {plain(item.reason)}"
                                    for item in outcome.failed))
        if outcome.skipped:
            st.caption("Skipped: " + ", ".join(plain(item.patient_name)
                                               for item in outcome.skipped)
                       + " (registered by someone else meanwhile).")
        left, right = st.columns(2)
        if letters:
            left.download_button(
                f"Download letters ({len(outcome.families):,} families, PDF)", data=letters,
                file_name=LETTERS_FILE, mime="application/pdf", icon=":material/print:",
                on_click="ignore", width="stretch")
        right.button("Close", key="bulk_register_close", on_click=_set_step, args=(None,),
                     width="stretch")


def register_all(context: PageContext, criteria: ScheduleCriteria,
                 on_done: Callable[[], None]) -> None:
    """The `Register all` button and, once clicked, its confirmation, progress and result."""
    step = st.session_state.get(STEP)
    if step is None:
        st.button("Register all", icon=":material/group_add:", key="bulk_register_open",
                  on_click=_set_step, args=("confirm",),
                  help="Invite every patient in this list who is Not registered (or whose PIN "
                       "expired) and has a guardian email on file, each in the guardian's "
                       "language. Families who declined, and those with no email whose number "
                       "opted out of texts, are skipped and listed first.")
    elif step == "confirm":
        _confirm(context, criteria, on_done)
    elif RESULT in st.session_state:
        _show_result(*st.session_state[RESULT])
    else:
        _set_step(None)
