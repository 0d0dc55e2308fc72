"""Languages for what a parent reads: gettext catalogs under locales/ (managed with Babel),
dates per locale, language names in their own language, and Jinja2 with the catalogs installed.

Adding a language is adding a catalog: `pybabel init -l xx`, translate, `pybabel compile`.
English is the source language and needs no catalog. Staff pages stay English.
"""

from __future__ import annotations

import datetime as dt
import functools
import gettext as stdlib_gettext
import unicodedata
import urllib.parse
from collections.abc import Callable
from pathlib import Path

import jinja2
from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.lists import format_list
from babel.support import NullTranslations, Translations

from services.errors import quoted

ROOT = Path(__file__).resolve().parent.parent
LOCALE_DIR = ROOT / "locales"
TEMPLATE_DIR = ROOT / "templates"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "en"
FIELD = "Preferred language"


def supported_languages() -> tuple[str, ...]:
    """English first, then every language with a compiled catalog under locales/."""
    found = sorted(
        path.parent.parent.name
        for path in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.mo")
        if path.parent.parent.name != DEFAULT_LANGUAGE
    )
    return (DEFAULT_LANGUAGE, *found)


def language_name(code: str) -> str:
    """The language's name in that language, as a parent would look for it: English, Español."""
    name = Locale.parse(code).get_display_name(code) or code
    return name[:1].upper() + name[1:]


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@functools.cache
def _names_to_codes() -> dict[str, str]:
    names: dict[str, str] = {}
    languages = supported_languages()
    for code in languages:
        names[_fold(code)] = code
        # "Spanish", "Español", "Inglés": the name in English and in every language offered.
        for other in {DEFAULT_LANGUAGE, *languages}:
            names[_fold(Locale.parse(code).get_language_name(other) or code)] = code
    return names


def normalize_language(value: str | None) -> str | None:
    """A supported language code for `es`, `es-MX`, `Spanish`, `Español`, `spa` …;
    None when the value is empty or names a language without a catalog."""
    if not value or not value.strip():
        return None
    folded = _fold(value)
    names = _names_to_codes()
    if folded in names:
        return names[folded]
    try:
        locale = Locale.parse(value.strip().replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        alpha3 = {"eng": "en", "spa": "es"}.get(folded)
        return alpha3 if alpha3 in supported_languages() else None
    return locale.language if locale.language in supported_languages() else None


def language_not_offered(value: str, *, label: str) -> str:
    """The message for a language value no catalog serves, naming the field and the choices."""
    offered = ", ".join(language_name(code) for code in supported_languages())
    return f"{label} {quoted(value)} is not offered: choose one of {offered}."


def language_or_default(value: str | None) -> str:
    """`value` when it is a supported language, else English (links may carry anything)."""
    return normalize_language(value) or DEFAULT_LANGUAGE


@functools.cache
def translations(language: str) -> stdlib_gettext.NullTranslations:
    """The compiled catalog for `language` (English, or no catalog: the source text)."""
    if language == DEFAULT_LANGUAGE or language not in supported_languages():
        return NullTranslations()
    return Translations.load(str(LOCALE_DIR), locales=[language], domain=DOMAIN)


def gettext_for(language: str) -> Callable[[str], str]:
    """`_` for `language`: `_ = gettext_for("es"); _("Your PIN")`."""
    return translations(language).gettext


def ngettext_for(language: str) -> Callable[[str, str, int], str]:
    """The plural form of `gettext_for`."""
    return translations(language).ngettext


def format_long_date(day: dt.date, language: str) -> str:
    """`December 14, 2026` / `14 de diciembre de 2026`."""
    return format_date(day, format="long", locale=language_or_default(language))


def format_short_date(day: dt.date, language: str) -> str:
    """`Dec 14, 2026` / `14 dic 2026`, for texts where every character counts."""
    return format_date(day, format="medium", locale=language_or_default(language))


def format_names(names: list[str], language: str) -> str:
    """`Ana and Ben` / `Ana y Ben`: names joined the way `language` joins a list."""
    return format_list(list(names), locale=language_or_default(language))


@functools.cache
def template_environment(language: str) -> jinja2.Environment:
    """The message templates with `{% trans %}` and `_()` bound to `language`'s catalog."""
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    environment.install_gettext_translations(translations(language), newstyle=True)
    environment.globals["language"] = language
    return environment


def localized_url(url: str, language: str) -> str:
    """`url` with `lang=<language>` added (English, the default, adds nothing), so that the
    activation page opens in the parent's language."""
    language = language_or_default(language)
    if language == DEFAULT_LANGUAGE:
        return url
    parts = urllib.parse.urlsplit(url)
    query = [(key, value) for key, value in urllib.parse.parse_qsl(parts.query) if key != "lang"]
    query.append(("lang", language))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))
