"""Settings: keys never silently change (by value, by file outside the data folder, generated
once; a new outbox key is refused while sealed messages wait, in the app and in every manage.py
command); the upload limit is one number."""

from __future__ import annotations

import io
import sys

import pytest
from sqlmodel import select

import manage
from models import OutboxMessage
from services import outbox
from services.settings import (
    KeyWouldChange,
    WeakKeyError,
    cookie_key,
    get_settings,
    outbox_key,
)
from tests.factories import make_practice
from tests.pages.helpers import app_test, texts

SEALED_PIN = "7KQ4M9TXR2"


def queue_sealed_message(session) -> int:
    practice = make_practice(session)
    message = OutboxMessage(practice_id=practice.id, channel="email", recipient="p@example.com",
                            subject="Invitation", body_text="PIN: [[PIN]]",
                            sealed_secret=outbox.seal_secret(SEALED_PIN))
    session.add(message)
    session.commit()
    return message.id


def test_outbox_key_is_generated_once_into_the_data_folder(data_dir):
    first = outbox_key()
    assert (data_dir / "outbox_key.key").read_text().strip() == first
    get_settings.cache_clear()
    assert outbox_key() == first


def test_outbox_key_file_outside_the_data_folder_is_read_and_created_there(tmp_path, data_dir,
                                                                           monkeypatch):
    key_file = tmp_path / "keys" / "outbox.key"
    monkeypatch.setenv("PORTAL_OUTBOX_KEY_FILE", str(key_file))
    get_settings.cache_clear()
    key = outbox_key()
    assert key_file.read_text().strip() == key
    assert not (data_dir / "outbox_key.key").exists()
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"

    key_file.write_text("f" * 50 + "\n")
    assert outbox_key() == "f" * 50


def test_a_short_key_file_is_refused_not_replaced(tmp_path, data_dir, monkeypatch):
    key_file = tmp_path / "cookie.key"
    key_file.write_text("short")
    monkeypatch.setenv("PORTAL_COOKIE_KEY_FILE", str(key_file))
    get_settings.cache_clear()
    with pytest.raises(WeakKeyError, match="PORTAL_COOKIE_KEY_FILE"):
        cookie_key()
    assert key_file.read_text() == "short"


def test_cookie_key_file_is_used(tmp_path, data_dir, monkeypatch):
    key_file = tmp_path / "cookie.key"
    key_file.write_text("c" * 40)
    monkeypatch.setenv("PORTAL_COOKIE_KEY_FILE", str(key_file))
    get_settings.cache_clear()
    assert cookie_key() == "c" * 40
    assert not (data_dir / "cookie_key.key").exists()


def test_a_lost_outbox_key_is_not_replaced_while_sealed_messages_wait(session, data_dir):
    queue_sealed_message(session)
    old_key = (data_dir / "outbox_key.key").read_text()
    (data_dir / "outbox_key.key").unlink()

    with pytest.raises(KeyWouldChange) as refused:
        outbox_key()
    message = str(refused.value)
    assert "PORTAL_OUTBOX_KEY" in message and "1 sealed message" in message
    assert "\n" not in message
    assert not (data_dir / "outbox_key.key").exists()

    # Putting the old key back (here by value) opens the waiting PIN again.
    (data_dir / "outbox_key.key").write_text(old_key)
    sealed = session.exec(select(OutboxMessage.sealed_secret)).one()
    assert outbox.unseal_secret(sealed) == SEALED_PIN


def test_a_short_key_file_in_the_data_folder_is_not_replaced_while_sealed_messages_wait(
        session, data_dir):
    queue_sealed_message(session)
    (data_dir / "outbox_key.key").write_text("truncated")
    with pytest.raises(KeyWouldChange):
        outbox_key()
    assert (data_dir / "outbox_key.key").read_text() == "truncated"


def test_a_new_outbox_key_is_made_once_nothing_sealed_waits(session, data_dir):
    message_id = queue_sealed_message(session)
    (data_dir / "outbox_key.key").unlink()
    session.get(OutboxMessage, message_id).sealed_secret = None  # sent, PIN erased
    session.commit()
    assert len(outbox_key()) >= 32


@pytest.mark.parametrize("argv", [["send-outbox"], ["seed-demo", "--appointments", "5"],
                                  ["create-practice", "X", "--timezone", "UTC"]])
def test_every_command_refuses_with_one_line_naming_the_key(session, data_dir, monkeypatch,
                                                           capsys, argv):
    queue_sealed_message(session)
    (data_dir / "outbox_key.key").unlink()
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert manage.main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: the outbox key is missing") and "PORTAL_OUTBOX_KEY" in error
    assert len(error.splitlines()) == 1
    assert not (data_dir / "outbox_key.key").exists()


def test_the_app_refuses_to_start_with_the_message(session, data_dir):
    queue_sealed_message(session)
    (data_dir / "outbox_key.key").unlink()
    at = app_test()
    at.run()
    assert not at.exception
    assert "PORTAL_OUTBOX_KEY_FILE" in texts(at)
    assert not (data_dir / "outbox_key.key").exists()


def test_the_app_refuses_to_start_when_the_upload_limits_disagree(database_url, monkeypatch):
    monkeypatch.setenv("PORTAL_MAX_UPLOAD_MB", "7")
    get_settings.cache_clear()
    at = app_test()
    at.run()
    assert not at.exception
    assert "PORTAL_MAX_UPLOAD_MB is 7 but Streamlit's server.maxUploadSize is 50" in texts(at)


def test_a_lost_pin_pepper_is_not_replaced_while_peppered_pins_wait(session, data_dir,
                                                                    monkeypatch, capsys):
    from services.pins import generate_pin, verify_secret
    from services.settings import pin_pepper
    from tests.factories import make_enrollment

    pin = generate_pin()
    enrollment = make_enrollment(session, make_practice(session), pin=pin)
    session.commit()
    old_pepper = (data_dir / "pin_pepper.key").read_text()
    (data_dir / "pin_pepper.key").unlink()

    with pytest.raises(KeyWouldChange) as refused:
        pin_pepper()
    message = str(refused.value)
    assert "PORTAL_PIN_PEPPER" in message and "1 PIN(s)" in message and "\n" not in message
    assert not (data_dir / "pin_pepper.key").exists()
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert manage.main(["send-outbox"]) == 2
    assert "PORTAL_PIN_PEPPER" in capsys.readouterr().err
    assert not (data_dir / "pin_pepper.key").exists()

    # The old pepper back in place: the waiting PIN matches again.
    (data_dir / "pin_pepper.key").write_text(old_pepper)
    assert verify_secret(pin, session.get(type(enrollment), enrollment.id).secret_hash)


def test_a_new_pin_pepper_is_made_once_no_peppered_hash_waits(session, data_dir):
    from services.settings import pin_pepper
    from tests.factories import make_enrollment

    enrollment = make_enrollment(session, make_practice(session), pin="7KQ4M9TXR2")
    (data_dir / "pin_pepper.key").unlink()
    enrollment.secret_hash = None  # used: the hash is erased on activation
    session.commit()
    assert len(pin_pepper()) >= 32
