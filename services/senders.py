"""How messages leave: the SMTP and SMS API adapters behind the Mailer and TextSender protocols.

Delivery (services/outbox.py) talks only to `Senders`; tests hand it recording fakes
(tests/fakes.py) instead of servers.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

from services.messages import Channel
from services.settings import Settings, get_settings


class PermanentFailure(Exception):
    """A send that retrying cannot fix (refused address, missing PIN)."""


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class TextSender(Protocol):
    def send_text(self, *, to: str, body: str) -> None: ...


class SmtpMailer:
    """Sends over SMTP with STARTTLS, SSL or neither, and a login when one is set."""

    def __init__(self, settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.settings = settings
        self.ssl_context = ssl_context or ssl.create_default_context()

    def send(self, message: EmailMessage) -> None:
        settings = self.settings
        try:
            if settings.smtp_security == "ssl":
                client = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port,
                                          timeout=settings.smtp_timeout, context=self.ssl_context)
            else:
                client = smtplib.SMTP(settings.smtp_host, settings.smtp_port,
                                      timeout=settings.smtp_timeout)
            with client:
                if settings.smtp_security == "starttls":
                    client.starttls(context=self.ssl_context)
                if settings.smtp_username:
                    password = settings.smtp_password.get_secret_value() \
                        if settings.smtp_password else ""
                    client.login(settings.smtp_username, password)
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            raise PermanentFailure(f"recipient refused: {error.recipients}") from error
        except smtplib.SMTPResponseException as error:
            text = f"SMTP {error.smtp_code}: {error.smtp_error!r}"
            if 500 <= error.smtp_code < 600:
                raise PermanentFailure(text) from error
            raise OSError(text) from error


class HttpTextSender:
    """Sends texts through a Twilio-compatible Messages endpoint (form POST, basic auth)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def send_text(self, *, to: str, body: str) -> None:
        settings = self.settings
        fields = {"To": to, "Body": body}
        if settings.sms_from:
            fields["From"] = settings.sms_from
        credentials = f"{settings.sms_api_account}:{settings.sms_api_token.get_secret_value()}"
        request = urllib.request.Request(
            settings.sms_api_url,
            data=urllib.parse.urlencode(fields).encode("utf-8"),
            method="POST",
            headers={
                "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.smtp_timeout) as response:
                response.read()
        except urllib.error.HTTPError as error:
            detail = error.read(300).decode("utf-8", "replace")
            text = f"SMS API HTTP {error.code}: {detail}"
            if 400 <= error.code < 500 and error.code not in (408, 429):
                raise PermanentFailure(text) from error
            raise OSError(text) from error


@dataclass(frozen=True)
class Senders:
    """The adapters delivery uses; None means that channel is not configured."""

    mailer: Mailer | None = None
    texter: TextSender | None = None
    from_address: str = "Practice Portal <no-reply@localhost>"

    def ready(self, channel: str) -> bool:
        """True when a message on `channel` can be sent now."""
        if channel == Channel.sms_api:
            return self.texter is not None
        return self.mailer is not None


def senders_from_settings(settings: Settings | None = None) -> Senders:
    """SMTP and the SMS API as configured (either may be absent)."""
    settings = settings or get_settings()
    return Senders(
        mailer=SmtpMailer(settings) if settings.smtp_configured else None,
        texter=HttpTextSender(settings) if settings.sms_api_configured else None,
        from_address=settings.smtp_from,
    )
