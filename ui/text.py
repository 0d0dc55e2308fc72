"""Text on screen: one Markdown escaper and one flash-message helper for every page."""

from __future__ import annotations

import streamlit as st

# Markdown's inline and block markup, plus `:` (Streamlit's emoji/icon shortcodes) and `$` (LaTeX).
_MARKUP = set("\\`*_{}[]()#+-.!<>|~$:")


def plain(text: object) -> str:
    """Text shown exactly as typed inside a Markdown line: every markup character escaped, so a
    value such as `[x](https://…)` or `![x](…)` renders as text, never as a link or an image."""
    return "".join("\\" + ch if ch in _MARKUP else ch for ch in str(text))


def flash(page_key: str, message: str, kind: str = "success") -> None:
    """Keep a message to show once on the page's next run (after st.rerun)."""
    st.session_state[f"_{page_key}_flash"] = (kind, message)


def show_flash(page_key: str) -> None:
    """Show, once, the message a previous run of the page flashed, as text (it may repeat a
    value someone typed: a name, a reason)."""
    flashed = st.session_state.pop(f"_{page_key}_flash", None)
    if not flashed:
        return
    kind, message = flashed if isinstance(flashed, tuple) else ("success", flashed)
    getattr(st, kind)(plain(message))
