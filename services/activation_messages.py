"""What the activation page tells a parent: how a try ended (Outcome) and the words for each
refusal, naming the practice to call."""

from __future__ import annotations

from enum import StrEnum

from models import EnrollmentMethod, Practice

UNKNOWN_LINK_MESSAGE = (
    "We could not find this activation link. Open the link in the welcome email or scan the "
    "QR code on the PIN letter from your practice; if it still does not work, call the practice."
)


class Outcome(StrEnum):
    """How one activation try ended (also the `outcome` of its audit event)."""

    activated = "activated"
    wrong_secret = "wrong_secret"  # wrong PIN or date of birth, or wrong answer
    locked = "locked"  # too many wrong tries, now or before
    expired = "expired"
    voided = "voided"  # a newer PIN replaced this one
    used = "used"
    declined = "declined"
    throttled = "throttled"  # too many tries from this client
    too_old = "too_old"  # the child is past the practice's minor age limit
    account_exists = "account_exists"
    account_mismatch = "account_mismatch"  # existing account: email or password wrong
    unknown_link = "unknown_link"


def call_practice(practice: Practice) -> str:
    if practice.phone:
        return f"call {practice.name} at {practice.phone}"
    return f"call {practice.name}"


def refusal_message(outcome: Outcome, practice: Practice, *, method: str) -> str:
    call = call_practice(practice)
    if outcome == Outcome.wrong_secret:
        if method == EnrollmentMethod.question:
            return (
                "That answer and date of birth do not match our records. Check both and try "
                "again; after a few "
                f"wrong tries the link is locked and you would need to {call} for a new one."
            )
        return (
            "That PIN and date of birth do not match our records. Check both (the PIN is on "
            "your letter or in the welcome email) and try again; after a few wrong tries the PIN "
            f"is locked and you would need to {call} for a new one."
        )
    # A verification-question link has no PIN: its messages speak of "this link".
    secret = "link" if method == EnrollmentMethod.question else "PIN"
    return {
        Outcome.locked: (
            f"This {secret} is locked after too many wrong tries. Please {call} and ask for a "
            "new PIN."
        ),
        Outcome.expired: f"This {secret} has expired. Please {call} and ask for a new PIN.",
        Outcome.voided: (
            f"This {secret} was replaced by a newer one. Use the link in the most recent email "
            f"or letter from {practice.name}, or {call} for help."
        ),
        Outcome.used: (
            f"This {secret} has already been used to activate a portal account, so it cannot be "
            "used again. Sign in to the patient portal with the email and password chosen then; "
            f"if that was not you, {call}."
        ),
        Outcome.declined: (
            "Portal access for this child was declined at the practice. If you would like it "
            f"now, {call} and ask for a PIN."
        ),
        Outcome.account_exists: (
            "A portal account with this email address already exists. Tick \"I already have an "
            "account\" and enter its password to add this child to it."
        ),
        Outcome.account_mismatch: (
            "We could not sign you in with that email address and password. Check them and "
            "try again, or untick \"I already have an account\" to create a new account; if you "
            f"forgot the password, {call}."
        ),
    }[outcome]


def too_old_message(practice: Practice, first_name: str) -> str:
    return (
        f"Parents' portal access ends when a child turns {practice.minor_age_limit}, so we "
        f"cannot give you access to {first_name}'s records. {first_name} can ask "
        f"{practice.name} for a portal account of their own; {call_practice(practice)} for help."
    )


def throttled_message(minutes: int) -> str:
    unit = "minute" if minutes == 1 else "minutes"
    return (
        f"Too many tries from this device. Please wait {minutes} {unit} and try again, "
        "or call the practice for help."
    )


PIN_SOURCES = {
    "email": "Enter the PIN from your welcome email, and your child's date of birth.",
    "text": "Enter the PIN from the text message we sent you, and your child's date of birth.",
    "letter": "Enter the PIN printed on the letter the practice gave you, and your child's "
              "date of birth.",
}


def pin_source(*, send_pin: bool, send_text: bool) -> str:
    """Where the parent's PIN went, as the registration sent it: email, text or letter."""
    if not send_pin:
        return "letter"
    return "text" if send_text else "email"
