"""What the activation page tells a parent, in the parent's language: how a try ended
(Outcome) and the words for each refusal, naming the practice to call."""

from __future__ import annotations

from enum import StrEnum

from models import EnrollmentMethod, Practice
from services.i18n import DEFAULT_LANGUAGE, gettext_for, ngettext_for


def unknown_link_message(language: str = DEFAULT_LANGUAGE) -> str:
    _ = gettext_for(language)
    return _("We could not find this activation link. Open the link in the welcome email or scan "
             "the QR code on the PIN letter from your practice; if it still does not work, call "
             "the practice.")


UNKNOWN_LINK_MESSAGE = unknown_link_message()


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


def contact(practice: Practice, language: str = DEFAULT_LANGUAGE) -> str:
    """Whom to call: `Sunny Peds at (555) 010-2000`, or the name alone."""
    _ = gettext_for(language)
    if practice.phone:
        return _("%(practice)s at %(phone)s") % {"practice": practice.name,
                                                 "phone": practice.phone}
    return practice.name


def _messages(practice: Practice, language: str, method: str) -> dict[Outcome, str]:
    _ = gettext_for(language)
    values = {"contact": contact(practice, language), "practice": practice.name}
    if method == EnrollmentMethod.question:  # a question link has no PIN: speak of the link
        secret_refusals = {
            Outcome.locked: _("This link is locked after too many wrong tries. Please call "
                              "%(contact)s and ask for a new invitation.") % values,
            Outcome.expired: _("This link has expired. Please call %(contact)s and ask for a new "
                               "invitation.") % values,
            Outcome.voided: _("This link was replaced by a newer one. Use the link in the most "
                              "recent email from %(practice)s, or call %(contact)s for help.")
            % values,
            Outcome.used: _("This link has already been used to activate a portal account, so "
                            "it cannot be used again. Sign in to the patient portal with the "
                            "email and password chosen then; if that was not you, call "
                            "%(contact)s.") % values,
        }
    else:
        secret_refusals = {
            Outcome.locked: _("This PIN is locked after too many wrong tries. Please call "
                              "%(contact)s and ask for a new PIN.") % values,
            Outcome.expired: _("This PIN has expired. Please call %(contact)s and ask for a new "
                               "PIN.") % values,
            Outcome.voided: _("This PIN was replaced by a newer one. Use the link in the most "
                              "recent email or letter from %(practice)s, or call %(contact)s for "
                              "help.") % values,
            Outcome.used: _("This PIN has already been used to activate a portal account, so it "
                            "cannot be used again. Sign in to the patient portal with the email "
                            "and password chosen then; if that was not you, call %(contact)s.")
            % values,
        }
    return {
        **secret_refusals,
        Outcome.declined: _("Portal access for this child was declined at the practice. If you "
                            "would like it now, call %(contact)s and ask for a PIN.") % values,
        Outcome.account_exists: _("A portal account with this email address already exists. "
                                  "Tick \"I already have an account\" and enter its password to "
                                  "add this child to it."),
        Outcome.account_mismatch: _("We could not sign you in with that email address and "
                                    "password. Check them and try again, or untick \"I already "
                                    "have an account\" to create a new account; if you forgot "
                                    "the password, call %(contact)s.") % values,
    }


def refusal_message(outcome: Outcome, practice: Practice, *, method: str,
                    language: str = DEFAULT_LANGUAGE) -> str:
    """The words for a refused try, in `language`."""
    _ = gettext_for(language)
    values = {"contact": contact(practice, language)}
    if outcome == Outcome.wrong_secret:
        if method == EnrollmentMethod.question:
            return _("That answer and date of birth do not match our records. Check both and "
                     "try again; after a few wrong tries the link is locked and you would need "
                     "to call %(contact)s for a new one.") % values
        return _("That PIN and date of birth do not match our records. Check both (the PIN is "
                 "on your letter or in the welcome email) and try again; after a few wrong tries "
                 "the PIN is locked and you would need to call %(contact)s for a new one."
                 ) % values
    return _messages(practice, language, method)[outcome]


def too_old_message(practice: Practice, first_name: str,
                    language: str = DEFAULT_LANGUAGE) -> str:
    _ = gettext_for(language)
    return _("Parents' portal access ends when a child turns %(age)s, so we cannot give you "
             "access to %(child)s's records. %(child)s can ask %(practice)s for a portal account "
             "of their own; call %(contact)s for help.") % {
        "age": practice.minor_age_limit, "child": first_name, "practice": practice.name,
        "contact": contact(practice, language)}


def limited_account_note(first_name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """What a parent's limited account sees (the child is past the practice's Confidential
    age), for the activation page and the PIN letter."""
    _ = gettext_for(language)
    return _("This is a limited account: %(child)s has reached the age at which some care is "
             "confidential. You will see visits, immunizations, forms and messages with the "
             "practice, but not confidential notes or results. %(child)s may also have a portal "
             "account of their own.") % {"child": first_name}


def throttled_message(minutes: int, language: str = DEFAULT_LANGUAGE) -> str:
    ngettext = ngettext_for(language)
    return ngettext(
        "Too many tries from this device. Please wait %(minutes)s minute and try again, or "
        "call the practice for help.",
        "Too many tries from this device. Please wait %(minutes)s minutes and try again, or "
        "call the practice for help.", minutes) % {"minutes": minutes}


def activated_message(*, first_name: str, email: str, existing_account: bool,
                      language: str = DEFAULT_LANGUAGE, own_account: bool = False) -> str:
    """The confirmation after a successful activation."""
    _ = gettext_for(language)
    values = {"child": first_name, "email": email}
    if own_account:
        return _("Your portal account %(email)s is active, with access to your own records."
                 ) % values
    if existing_account:
        return _("%(child)s is now linked to the portal account %(email)s.") % values
    return _("Your portal account %(email)s is active, with access to %(child)s's records."
             ) % values


def pin_source(*, send_pin: bool, send_text: bool) -> str:
    """Where the parent's PIN went, as the registration sent it: email, text or letter."""
    if not send_pin:
        return "letter"
    return "text" if send_text else "email"


def pin_source_instruction(source: str | None, language: str = DEFAULT_LANGUAGE, *,
                           own_account: bool = False) -> str:
    """What the activation page asks for, naming where the PIN went as it was sent (to the
    patient themself, for an invitation of their own: their date of birth)."""
    _ = gettext_for(language)
    if own_account:
        if source == "text":
            return _("Enter the PIN from the text message we sent you, and your date of birth.")
        if source == "letter":
            return _("Enter the PIN printed on the letter the practice gave you, and your date "
                     "of birth.")
        return _("Enter the PIN from your welcome email, and your date of birth.")
    if source == "text":
        return _("Enter the PIN from the text message we sent you, and your child's date of "
                 "birth.")
    if source == "letter":
        return _("Enter the PIN printed on the letter the practice gave you, and your child's "
                 "date of birth.")
    return _("Enter the PIN from your welcome email, and your child's date of birth.")
