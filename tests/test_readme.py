"""README's first run and configuration say what the code does."""

from __future__ import annotations

import re
from pathlib import Path

from services.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
SETUP_PAGE = (Path(__file__).resolve().parent.parent / "pages" / "setup.py").read_text(
    encoding="utf-8")


def _row(variable: str) -> str:
    return next(line for line in README.splitlines() if line.startswith(f"| `{variable}`"))


def test_database_url_default_follows_the_data_folder_as_the_code_does(tmp_path):
    assert Settings(data_dir=tmp_path, database_url=None).resolved_database_url == (
        f"sqlite:///{tmp_path.as_posix()}/portal.db")
    assert "`PORTAL_DATA_DIR`" in _row("PORTAL_DATABASE_URL")


def test_first_run_names_the_command_that_prints_the_token_and_when_the_server_does():
    first_run = README.split("## Set up", 1)[1].split("## Screenshots", 1)[0]
    assert "python manage.py setup-token" in first_run
    assert "first browser" in first_run  # when the server itself prints it


def test_load_demo_practice_is_described_as_the_form_has_it():
    ticked = re.search(r'st\.checkbox\("Load demo practice", value=(True|False)', SETUP_PAGE)
    assert ticked and ticked.group(1) == "True"
    assert "**Load demo practice** is already ticked" in README


def test_the_public_address_is_documented_as_setup_and_practice_settings_name_it():
    assert "**Public address of this app**" in README
    assert 'PUBLIC_ADDRESS = "Public address of this app"' in SETUP_PAGE
    assert "Practice Settings" in README.split("**Public address.**", 1)[1].split("\n\n")[0]
