"""Outbox (admin): every email and text of the practice with its status and error, paged in SQL;
resend one, or send what is due now. Bodies show the PIN placeholder, never a PIN."""

from __future__ import annotations

from ui.imports import through_app

through_app()  # first: a fresh server's first run may start here, not in app.py

import zoneinfo

import pandas as pd
import streamlit as st

from services import outbox, permissions, worker
from services.dates import moment_text
from services.db import session_scope
from services.errors import PortalError
from services.settings import get_settings
from ui.context import require_page
from ui.text import flash, show_flash

CACHE_TTL_SECONDS = 10
PAGE_SIZE = 25
STATUSES = ["All", "held", "pending", "sent", "failed"]
FLASH = "outbox"


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def load_page(practice_id: int, status: str | None, page: int) -> outbox.OutboxPage:
    with session_scope(read_only=True) as session:
        return outbox.list_outbox(session, practice_id=practice_id, status=status,
                                  page=page, page_size=PAGE_SIZE)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def load_counts(practice_id: int) -> dict[str, int]:
    with session_scope(read_only=True) as session:
        return outbox.count_outbox(session, practice_id=practice_id)


@st.cache_data(ttl=CACHE_TTL_SECONDS, show_spinner=False)
def load_worker_last_seen():
    with session_scope(read_only=True) as session:
        return worker.worker_last_seen(session)


def resend(practice_id: int, message_id: int, actor: str) -> None:
    """Queue the message again, then try it at once (after the commit)."""
    try:
        with session_scope() as session:
            target = outbox.resend_message(session, practice_id=practice_id,
                                           message_id=message_id, actor=actor)
        with session_scope() as session:
            report = outbox.send_due_messages(session, message_ids=[target])
    except PortalError as error:
        flash(FLASH, error.message, "error")
        return
    finally:
        st.cache_data.clear()
    kind = "success" if report.sent else "warning" if report.errors else "info"
    flash(FLASH, outbox.describe_resend(report, message_id), kind)


def send_due(practice_id: int) -> None:
    """Send every due message of the practice now."""
    try:
        with session_scope() as session:
            report = outbox.send_due_messages(session, practice_id=practice_id)
    finally:
        st.cache_data.clear()
    flash(FLASH, outbox.describe_run(report), "success" if not report.errors else "warning")


# The table's headers as staff read them (the service's columns are codes).
HEADERS = {"id": "Message", "created": "Created", "channel": "Sent by", "recipient": "To",
           "subject": "Subject", "status": "Status", "attempts": "Tries", "error": "Error",
           "next try": "Next try", "sent": "Sent", "body preview": "Body preview"}


def in_words(frame: pd.DataFrame, timezone: str) -> pd.DataFrame:
    """The page's table as staff read it: headers, channels and statuses in words, local
    times as MM/DD/YYYY 12-hour."""
    frame["id"] = [f"#{value}" for value in frame["id"]]
    frame["channel"] = frame["channel"].map(outbox.channel_label)
    frame["status"] = frame["status"].map(outbox.status_label)
    zone = zoneinfo.ZoneInfo(timezone)
    for column in ("created", "next try", "sent"):
        frame[column] = [moment_text(value, zone) if value is not None and not pd.isna(value)
                         else "" for value in frame[column]]
    return frame.rename(columns=HEADERS)


context = require_page(permissions.OUTBOX)
st.title("Outbox")
show_flash(FLASH)

settings = get_settings()
if not settings.smtp_configured:
    st.info("No mail server is configured (PORTAL_SMTP_HOST), so emails and gateway texts wait "
            "here as **Held**. Set up SMTP and they go out with the next send.",
            icon=":material/mail_lock:")

st.caption(worker.describe_worker(load_worker_last_seen()))

counts = load_counts(context.practice.id)
cells = st.columns(4)
for cell, status in zip(cells, STATUSES[1:], strict=True):
    cell.metric(outbox.status_label(status), f"{counts.get(status, 0):,}")

left, right = st.columns([1, 1])
status = left.selectbox("Status", STATUSES, key="outbox_status",
                        format_func=lambda value: value if value == "All"
                        else outbox.status_label(value))
chosen_status = None if status == "All" else status
first = load_page(context.practice.id, chosen_status, 1)
page = right.number_input("Page", min_value=1, max_value=first.pages, value=1, step=1,
                          key="outbox_page", help=f"{first.total:,} messages, {first.pages} "
                                                  "pages")
result = first if page == 1 else load_page(context.practice.id, chosen_status, int(page))

if result.total == 0:
    st.info("No messages here yet. Registrations put their welcome emails and texts here.")
    st.stop()

st.dataframe(
    in_words(result.rows.copy(), context.practice.timezone),
    hide_index=True,
    width="stretch",
    column_config={
        "Body preview": st.column_config.TextColumn("Body preview", width="large"),
        "Error": st.column_config.TextColumn("Error", width="medium"),
    },
)
st.caption(f"Page {result.page} of {result.pages} · {result.total:,} messages · newest first. "
           "[[PIN]] marks where the PIN goes; it is added only when the message is sent.")

ids = [int(value) for value in result.rows["id"]]
row_left, row_right = st.columns([2, 1], vertical_alignment="bottom")
message_id = row_left.selectbox("Message", ids, key="outbox_message",
                                format_func=lambda value: f"#{value}")
row_right.button("Resend", key="outbox_resend", on_click=resend,
                 args=(context.practice.id, message_id, context.user.username))
if settings.smtp_configured or settings.sms_api_configured:
    st.button("Send due messages now", key="outbox_send_due", on_click=send_due,
              args=(context.practice.id,))
