"""Who is on the other end of a request, for throttles: the peer address, or the client's
address as a trusted proxy reports it in X-Forwarded-For."""

from __future__ import annotations

import ipaddress

from services.settings import get_settings

LOOPBACK = "127.0.0.1"


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def client_address(peer: str | None, forwarded_for: str | None) -> str:
    """The address to throttle: X-Forwarded-For is read only when the peer is a trusted proxy.

    `peer` None means a connection from this machine (Streamlit hides loopback addresses).
    Walking X-Forwarded-For from the right, every hop that is itself a trusted proxy is
    skipped; the first other address is the client. Entries left of it are the client's to
    forge and are never read.
    """
    networks = get_settings().trusted_proxy_networks
    hops = [p.strip() for p in (forwarded_for or "").split(",") if p.strip()]
    if peer and peer in hops:
        # The web server (uvicorn, which trusts X-Forwarded-For from loopback unless
        # FORWARDED_ALLOW_IPS says otherwise) already replaced the real peer, a local proxy
        # or a local forger, with an entry of the header. We decide for ourselves.
        peer = None
    address = _address(peer or LOOPBACK) or _address(LOOPBACK)

    def trusted(candidate) -> bool:
        return any(candidate in network for network in networks)

    if not trusted(address):
        return str(address)
    for part in reversed(hops):
        hop = _address(part)
        if hop is None:
            break  # a garbled entry: stop at the last address we could read
        address = hop
        if not trusted(hop):
            break
    return str(address)
