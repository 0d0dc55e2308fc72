"""PINs and verification answers: the alphabet, normalisation, grouping, salted hashes."""

from __future__ import annotations

import pytest

from services import pins


def test_generated_pins_have_ten_characters_from_the_look_alike_free_alphabet():
    drawn = [pins.generate_pin() for _ in range(200)]
    assert all(len(pin) == pins.PIN_LENGTH == 10 for pin in drawn)
    assert set("".join(drawn)) <= set(pins.PIN_ALPHABET)
    assert not set("01OIL") & set(pins.PIN_ALPHABET)
    assert len(set(drawn)) == len(drawn)  # fresh each time, not one PIN repeated


@pytest.mark.parametrize("typed", ["7kq4m-9txr2", " 7KQ4M 9TXR2 ", "7KQ4M\u20139TXR2",
                                   "7kq\t4m-9t\u2010xr2"])
def test_normalize_pin_upper_cases_and_drops_dashes_and_spaces(typed):
    assert pins.normalize_pin(typed) == "7KQ4M9TXR2"


def test_normalize_pin_of_nothing_is_empty():
    assert pins.normalize_pin(None) == ""
    assert pins.normalize_pin(" - ") == ""


def test_format_pin_groups_five_and_five():
    assert pins.format_pin("7kq4m9txr2") == "7KQ4M-9TXR2"
    assert pins.format_pin("7KQ4M-9TXR2") == "7KQ4M-9TXR2"
    assert pins.format_pin("ABC") == "ABC"  # too short to group


def test_normalize_answer_folds_case_punctuation_and_spacing():
    assert pins.normalize_answer("  St.  LOUIS,  Missouri ") == pins.normalize_answer(
        "st louis missouri")
    assert pins.normalize_answer("Straße") == pins.normalize_answer("STRASSE")
    assert pins.normalize_answer("ﬁdo") == "fido"  # NFKC: the ligature is two letters
    assert pins.normalize_answer(None) == ""


def test_hash_and_verify_roundtrip(data_dir):
    stored = pins.hash_secret("7KQ4M9TXR2")
    assert stored.startswith("hmac-argon2id$$argon2id$")
    assert "7KQ4M9TXR2" not in stored
    assert pins.verify_secret("7KQ4M9TXR2", stored)


def test_verify_refuses_a_wrong_secret(data_dir):
    stored = pins.hash_secret("7KQ4M9TXR2")
    assert not pins.verify_secret("7KQ4M9TXR3", stored)
    assert not pins.verify_secret("7kq4m9txr2", stored)  # callers normalise first


def test_the_same_secret_hashes_differently_each_time(data_dir):
    first, second = (pins.hash_secret("ANSWER") for _ in range(2))
    assert first != second
    assert pins.verify_secret("ANSWER", first) and pins.verify_secret("ANSWER", second)


@pytest.mark.parametrize("stored", [None, "", "garbage", "md5$1000$00$00",
                                    "pbkdf2_sha256$many$00$00", "pbkdf2_sha256$1000$zz$00"])
def test_verify_refuses_missing_or_malformed_hashes(stored):
    assert pins.verify_secret("7KQ4M9TXR2", stored) is False


@pytest.mark.parametrize("typed", [
    "lincoln elementary!", "Lincoln-Elementary", "LINCOLN  ELEMENTARY.", "lincolnelementary",
    "“Lincoln Elementary”", "Lincoln Elementary?!", " lincoln\telementary ", "Lincoln/Elementary",
])
def test_an_answer_ignores_case_spacing_and_all_punctuation(typed):
    assert pins.normalize_answer(typed) == pins.normalize_answer("Lincoln Elementary")


def test_an_answer_ignores_how_an_accent_is_encoded_but_keeps_the_letter():
    composed, decomposed = "Jos\u00e9", "Jose\u0301"
    assert pins.normalize_answer(composed) == pins.normalize_answer(decomposed)
    assert pins.normalize_answer("José") != pins.normalize_answer("Jose")
