"""Languages: catalogs complete and compiled as shipped, names in their own language, dates per
locale, and the message templates through the catalogs."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from types import SimpleNamespace

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from services import i18n

ROOT = i18n.ROOT
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalog(language: str):
    with open(i18n.LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as file:
        return read_po(file, locale=language)


def test_english_and_spanish_are_offered_by_their_own_names():
    assert i18n.supported_languages()[:2] == ("en", "es")
    assert [i18n.language_name(code) for code in ("en", "es")] == ["English", "Español"]


@pytest.mark.parametrize(("value", "code"), [
    ("es", "es"), ("ES", "es"), ("es-MX", "es"), ("es_US", "es"), ("Spanish", "es"),
    ("spanish", "es"), ("Español", "es"), ("espanol", "es"), ("spa", "es"),
    ("en", "en"), ("English", "en"), ("en-US", "en"), ("Inglés", "en"),
    ("", None), (None, None), ("Klingon", None), ("fr", None), ("zz-ZZ", None),
])
def test_normalize_language(value, code):
    assert i18n.normalize_language(value) == code


def test_dates_are_formatted_per_locale():
    day = dt.date(2026, 12, 14)
    assert i18n.format_long_date(day, "en") == "December 14, 2026"
    assert i18n.format_long_date(day, "es") == "14 de diciembre de 2026"
    assert i18n.format_long_date(day, "nope") == "December 14, 2026"


def test_names_are_joined_per_locale():
    assert i18n.format_names(["Ana", "Ben"], "en") == "Ana and Ben"
    assert i18n.format_names(["Ana", "Ben", "Cal"], "es") == "Ana, Ben y Cal"
    assert i18n.format_names(["Ana"], "nope") == "Ana"


def test_every_spanish_message_is_translated_with_the_same_placeholders():
    messages = [message for message in catalog("es") if message.id]
    assert messages
    for message in messages:
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        targets = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(targets), f"untranslated: {message.id!r}"
        assert "fuzzy" not in message.flags, f"fuzzy: {message.id!r}"
        for target in targets:
            assert sorted(PLACEHOLDER.findall(sources[-1])) == sorted(
                PLACEHOLDER.findall(target)), message.id


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_the_shipped_mo_file_is_compiled_from_the_po_file():
    with open(i18n.LOCALE_DIR / "es" / "LC_MESSAGES" / "messages.mo", "rb") as file:
        compiled = {_key(message.id): _key(message.string) for message in read_mo(file)
                    if message.id}
    source = {_key(message.id): _key(message.string) for message in catalog("es") if message.id}
    assert compiled == source, "run: pybabel compile -d locales"


def test_the_template_holds_every_message_in_the_code(tmp_path):
    target = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", "extract", "-F",
                    "babel.cfg", "-o", str(target), "."], cwd=ROOT, check=True)
    with open(target, "rb") as file:
        extracted = {message.id for message in read_po(file) if message.id}
    with open(i18n.LOCALE_DIR / "messages.pot", "rb") as file:
        shipped = {message.id for message in read_po(file) if message.id}
    assert extracted == shipped, "run the commands under Languages in README.md"
    assert extracted <= {message.id for message in catalog("es") if message.id}


def test_spanish_templates_render_in_spanish():
    environment = i18n.template_environment("es")
    body = environment.from_string(
        "{% trans %}Your PIN:{% endtrans %} {{ _('Open this link:') }}").render()
    assert body == "Su PIN: Abra este enlace:"
    assert i18n.template_environment("en").from_string(
        "{% trans %}Your PIN:{% endtrans %}").render() == "Your PIN:"


def test_html_templates_escape_values_inside_translations():
    practice = SimpleNamespace(name="Sunny & Co", phone="", address="")
    html = i18n.template_environment("es").get_template("welcome_email.html").render(
        subject="s", practice=practice, guardian_name="<b>Ana</b>", patient_first_name="Leo",
        activation_url="https://x.example/activate", expires_on="", method="pin",
        secret_step="step", pin=None, resend=False, own_account=False)
    assert "Estimado(a) &lt;b&gt;Ana&lt;/b&gt;:" in html and "Sunny &amp; Co" in html
    assert '<html lang="es">' in html
