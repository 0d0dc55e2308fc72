"""The client address for throttles: X-Forwarded-For only from PORTAL_TRUSTED_PROXIES."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.clients import client_address
from services.settings import Settings, get_settings


@pytest.fixture
def proxies(monkeypatch):
    def trust(value: str) -> None:
        monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", value)
        get_settings.cache_clear()
    yield trust
    get_settings.cache_clear()


def test_by_default_no_proxy_is_trusted_and_the_header_is_ignored(proxies):
    proxies("")
    assert client_address("10.0.0.2", "198.51.100.7") == "10.0.0.2"  # a private peer too
    assert client_address(None, "198.51.100.7") == "127.0.0.1"  # a local peer too
    assert client_address("203.0.113.5", None) == "203.0.113.5"


def test_a_trusted_proxy_reports_the_client(proxies):
    proxies("127.0.0.1, 10.0.0.0/8")
    assert client_address(None, "198.51.100.7") == "198.51.100.7"
    assert client_address("10.1.2.3", "198.51.100.7") == "198.51.100.7"
    # Another proxy of ours in the chain is skipped; the client cannot forge what is left of it.
    assert client_address("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.9.9.9") == "198.51.100.7"
    # A peer that is not ours gets no say, whatever it writes.
    assert client_address("203.0.113.5", "198.51.100.7") == "203.0.113.5"


def test_an_address_the_web_server_took_from_the_header_is_not_believed(proxies):
    # uvicorn trusts X-Forwarded-For from loopback by default and reports its entry as the
    # peer; without a trusted proxy of ours, that is a local connection like any other.
    proxies("")
    assert client_address("198.51.100.7", "198.51.100.7") == "127.0.0.1"
    proxies("127.0.0.1")  # nginx on this machine: then the header's client is believed
    assert client_address("198.51.100.7", "6.6.6.6, 198.51.100.7") == "198.51.100.7"


def test_a_garbled_header_falls_back_to_the_proxy(proxies):
    proxies("127.0.0.1")
    assert client_address(None, "not-an-address") == "127.0.0.1"
    assert client_address(None, "") == "127.0.0.1"


def test_a_bad_trusted_proxies_setting_names_the_setting(monkeypatch):
    monkeypatch.setenv("PORTAL_TRUSTED_PROXIES", "nginx.local")
    with pytest.raises(ValidationError, match="PORTAL_TRUSTED_PROXIES"):
        Settings()
