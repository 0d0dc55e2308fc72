"""PINs and verification answers: generation, normalisation, keyed slow hashes.

A PIN or answer is first keyed with HMAC-SHA256 and the pepper (a key kept outside the
database, like the outbox key), then hashed with Argon2id. A copy of the database alone is
not enough to try PINs offline. Hashes written before this (PBKDF2, no pepper) keep
verifying until their enrollments expire."""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
import unicodedata

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from services.settings import pin_pepper

# No 0/O, 1/I/L: a PIN read off paper or a phone screen cannot be misread.
PIN_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PIN_LENGTH = 10
_ITERATIONS = 20_000  # PBKDF2-SHA256: hashes written before Argon2id, verified until they expire
_SCHEME = "pbkdf2_sha256"
PEPPERED = "hmac-argon2id"  # prefix of the current scheme: HMAC with the pepper, then Argon2id
# OWASP's Argon2id minimum (19 MiB, 2 passes, 1 lane): tens of milliseconds, and fifty
# registrations at once stay within a small server's memory.
_ARGON2 = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@functools.cache
def _pepper_key(pepper: str) -> bytes:
    return hashlib.sha256(pepper.encode("utf-8")).digest()


def _keyed(secret: str) -> str:
    return hmac.new(_pepper_key(pin_pepper()), secret.encode("utf-8"), hashlib.sha256).hexdigest()


def generate_pin() -> str:
    """A fresh PIN of 10 characters from the look-alike-free alphabet."""
    return "".join(secrets.choice(PIN_ALPHABET) for _ in range(PIN_LENGTH))


def normalize_pin(value: str | None) -> str:
    """The PIN as typed, upper-cased with dashes and spaces removed."""
    return "".join(ch for ch in (value or "").upper() if ch not in " -\t\u2010\u2011\u2012\u2013")


def format_pin(pin: str) -> str:
    """The PIN grouped for reading, e.g. `7KQ4M-9TXR2`."""
    pin = normalize_pin(pin)
    return f"{pin[:5]}-{pin[5:]}" if len(pin) > 5 else pin


def normalize_answer(value: str | None) -> str:
    """A verification answer reduced to its letters and digits, so that case, accents' forms
    (NFKC), spacing and every punctuation mark or symbol do not matter."""
    text = unicodedata.normalize("NFKC", value or "").casefold()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LMN")


def legacy_answer(value: str | None) -> str:
    """The answer as hashed before punctuation and spacing were ignored (older invitations)."""
    text = unicodedata.normalize("NFKC", value or "").casefold()
    return " ".join(text.replace(".", " ").replace(",", " ").split())


def hash_secret(secret: str) -> str:
    """An Argon2id hash of an already normalised secret, keyed with the pepper."""
    return f"{PEPPERED}${_ARGON2.hash(_keyed(secret))}"


def hash_secret_pbkdf2(secret: str, *, iterations: int = _ITERATIONS) -> str:
    """The former scheme (salted PBKDF2, no pepper); only to test that old rows still verify."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, iterations)
    return f"{_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def _verify_pbkdf2(secret: str, secret_hash: str) -> bool:
    try:
        scheme, iterations, salt_hex, digest_hex = secret_hash.split("$")
        if scheme != _SCHEME:
            return False
        digest = hashlib.pbkdf2_hmac(
            "sha256", secret.encode("utf-8"), bytes.fromhex(salt_hex), int(iterations)
        )
    except ValueError:
        return False
    return hmac.compare_digest(digest.hex(), digest_hex)


def verify_secret(secret: str, secret_hash: str | None) -> bool:
    """Check a normalised secret against its stored hash (either scheme)."""
    if not secret_hash:
        return False
    if secret_hash.startswith(f"{PEPPERED}$"):
        try:
            return _ARGON2.verify(secret_hash.removeprefix(f"{PEPPERED}$"), _keyed(secret))
        except (VerificationError, InvalidHashError):
            return False
    return _verify_pbkdf2(secret, secret_hash)
