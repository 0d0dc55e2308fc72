"""PINs and verification answers: generation, normalisation, salted hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata

# No 0/O, 1/I/L: a PIN read off paper or a phone screen cannot be misread.
PIN_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
PIN_LENGTH = 10
_ITERATIONS = 20_000  # PBKDF2-SHA256; the PIN's ~50 bits plus guess limits carry the rest
_SCHEME = "pbkdf2_sha256"


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


def hash_secret(secret: str, *, iterations: int = _ITERATIONS) -> str:
    """A salted PBKDF2 hash of an already normalised secret."""
    salt = secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("utf-8"), salt, iterations)
    return f"{_SCHEME}${iterations}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, secret_hash: str | None) -> bool:
    """Constant-time check of a normalised secret against its stored hash."""
    if not secret_hash:
        return False
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
