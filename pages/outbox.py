"""Outbox: placeholder until its issue lands."""

import streamlit as st

from services import permissions
from ui.context import require_page

context = require_page(permissions.OUTBOX)
st.title("Outbox")
st.info("Coming soon: the outbox of emails and texts, with resend.")
