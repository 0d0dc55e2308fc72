"""PIN and answer hashes: Argon2id keyed with a pepper kept outside the database; the former
PBKDF2 hashes keep verifying."""

from __future__ import annotations

import hashlib

import pytest

from services import pins
from services.settings import get_settings, pin_pepper

PIN = "7KQ4M9TXR2"


def test_a_pin_is_hashed_with_argon2id_and_verifies(data_dir):
    stored = pins.hash_secret(PIN)
    assert stored.startswith(f"{pins.PEPPERED}$$argon2id$")
    assert PIN not in stored
    assert pins.verify_secret(PIN, stored)
    assert not pins.verify_secret("7KQ4M9TXR3", stored)


def test_the_hash_is_useless_without_the_pepper(data_dir, monkeypatch):
    stored = pins.hash_secret(PIN)
    # Someone with the database but another (or no) pepper cannot check guesses against it.
    monkeypatch.setenv("PORTAL_PIN_PEPPER", "another pepper of at least thirty-two bytes!")
    get_settings.cache_clear()
    assert not pins.verify_secret(PIN, stored)
    # Nor is it a plain Argon2id hash of the PIN that a cracking tool would try.
    from argon2 import PasswordHasher
    from argon2.exceptions import VerificationError
    with pytest.raises(VerificationError):
        PasswordHasher().verify(stored.removeprefix(f"{pins.PEPPERED}$"), PIN)


def test_the_pepper_lives_outside_the_database_in_a_private_key_file(data_dir):
    pepper = pin_pepper()
    path = data_dir / "pin_pepper.key"
    assert path.read_text(encoding="utf-8").strip() == pepper
    assert path.stat().st_mode & 0o077 == 0
    assert pin_pepper() == pepper  # generated once, then read


def test_an_old_pbkdf2_hash_still_verifies(data_dir):
    old = pins.hash_secret_pbkdf2(PIN, iterations=1_000)
    assert old.startswith("pbkdf2_sha256$1000$")
    assert pins.verify_secret(PIN, old)
    assert not pins.verify_secret("7KQ4M9TXR3", old)


@pytest.mark.parametrize("stored", [None, "", "hmac-argon2id$garbage", "pbkdf2_sha256$x$00$00",
                                    hashlib.sha256(PIN.encode()).hexdigest()])
def test_malformed_hashes_never_verify(data_dir, stored):
    assert not pins.verify_secret(PIN, stored)
