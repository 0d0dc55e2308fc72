"""Recording fakes for the narrow adapters: they keep what they were asked to do, doing nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage


@dataclass
class RecordingMailer:
    """A fake mailer: keeps what it was asked to send; fails when told to."""

    sent: list[EmailMessage] = field(default_factory=list)
    fail_with: Exception | None = None

    def send(self, message: EmailMessage) -> None:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(message)
