"""The client's address for throttles, read from the request Streamlit serves."""

from __future__ import annotations

import streamlit as st

from services.clients import client_address


def client_key() -> str:
    """`ip:<address>` of whoever sent this run (X-Forwarded-For only from a trusted proxy).

    Keyed by address, not by websocket session, so a throttle survives a reload.
    """
    peer = st.context.ip_address  # None for a connection from this machine
    peer = peer if isinstance(peer, str) and peer else None
    forwarded = st.context.headers.get("X-Forwarded-For") if st.context.headers else None
    return f"ip:{client_address(peer, forwarded)}"
