"""A "Did you mean …?" hint for an email address whose domain looks like a typo of a common
provider (gmial.com → gmail.com). A hint only: the address may be right, and is never refused."""

from __future__ import annotations

import difflib

# Common US consumer mail domains. An address at one of these is taken as typed.
COMMON_DOMAINS: tuple[str, ...] = (
    "gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com",
    "live.com", "msn.com", "me.com", "mac.com", "comcast.net", "att.net", "sbcglobal.net",
    "verizon.net", "bellsouth.net", "charter.net", "cox.net", "ymail.com", "rocketmail.com",
    "protonmail.com", "proton.me", "mail.com", "gmx.com", "earthlink.net", "frontier.com",
    "optonline.net", "windstream.net", "juno.com", "yahoo.com.mx", "yahoo.es", "hotmail.es",
    "outlook.es",
)
_KNOWN = frozenset(COMMON_DOMAINS)
# Close to 1: a domain one or two keystrokes away (gmial, yaho, hotmial, outlok, gmail.con).
CUTOFF = 0.84


def suggest_email(address: str | None) -> str | None:
    """The address with its domain corrected when it looks like a typo of a common provider;
    None when it does not (or is one, or has no domain)."""
    local, at, domain = (address or "").strip().rpartition("@")
    domain = domain.casefold().rstrip(".")
    if not at or not local or not domain or domain in _KNOWN:
        return None
    match = difflib.get_close_matches(domain, COMMON_DOMAINS, n=1, cutoff=CUTOFF)
    return f"{local}@{match[0]}" if match else None


def email_hint(address: str | None) -> str | None:
    """The hint staff see under `Email Address`, or None."""
    suggestion = suggest_email(address)
    if suggestion is None:
        return None
    return (f"Did you mean {suggestion}? The address {address.strip()} looks like a typo; "
            "check it with the parent. It is used as typed unless you change it.")
