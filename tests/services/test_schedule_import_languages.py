"""The preferred language from a schedule: a CSV `language` / `preferred language` column
(es, Spanish, Español …) and FHIR `communication` with `preferred`."""

from __future__ import annotations

import pytest
from sqlmodel import select

from models import Guardian
from tests.factories import make_location, make_practice, make_provider
from tests.services import test_schedule_import as base


@pytest.fixture
def practice(session):
    practice = make_practice(session, name="Sunny Peds", timezone="America/New_York")
    make_provider(session, practice, name="Dr. Ada Lee")
    make_location(session, practice, name="Main Street")
    return practice


def languages(session) -> dict[str, str]:
    return {guardian.first_name: guardian.preferred_language
            for guardian in session.exec(select(Guardian)).all()}


@pytest.mark.parametrize("header", ["Language", "Preferred Language", "Idioma"])
@pytest.mark.parametrize(("value", "expected"), [
    ("es", "es"), ("Spanish", "es"), ("Español", "es"), ("es-MX", "es"), ("English", "en"),
    ("", "en"), ("Vietnamese", "en"),  # no catalog yet: left as it is (English by default)
])
def test_a_csv_language_column_sets_the_guardians_language(session, practice, header, value,
                                                           expected):
    rows = [base._row(**{header: value})]
    report = base._import(session, practice, base._csv(rows, header=[*base.HEADER, header]))
    assert report.committed, report.rejected
    assert languages(session) == {"Maria": expected}


def test_a_later_file_changes_the_language_and_an_empty_cell_keeps_it(session, practice):
    header = [*base.HEADER, "Language"]
    base._import(session, practice, base._csv([base._row(Language="Spanish")], header=header))
    again = base._import(session, practice, base._csv(
        [base._row(Language="")], header=header))
    assert again.committed and languages(session) == {"Maria": "es"}
    base._import(session, practice, base._csv([base._row(Language="en")], header=header))
    assert languages(session) == {"Maria": "en"}


def test_a_language_without_a_guardian_names_no_guardian(session, practice):
    rows = [base._row(**{"Guardian First Name": "", "Guardian Last Name": "",
                         "Relationship": "", "Guardian Email": "", "Guardian Cell Phone": "",
                         "Language": "es"})]
    report = base._import(session, practice, base._csv(rows, header=[*base.HEADER, "Language"]))
    assert report.committed, report.rejected
    assert languages(session) == {}


def test_fhir_communication_preferred_sets_the_language(session, practice):
    def spanish(bundle):
        for entry in bundle["entry"]:
            resource = entry["resource"]
            if resource.get("id") == "rp-maria":
                resource["communication"] = [
                    {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}},
                    {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "es-MX",
                                              "display": "Spanish (Mexico)"}]},
                     "preferred": True},
                ]
            if resource.get("id") == "pat-theo":  # Grace states none: the child's stands
                resource["communication"] = [{"language": {"text": "Spanish"},
                                              "preferred": True}]

    report = base._import(session, practice, base._bundle(spanish), filename="schedule.json")
    assert report.committed, report.rejected
    assert languages(session) == {"Maria": "es", "Grace": "es"}


def test_fhir_without_communication_stays_english(session, practice):
    report = base._import(session, practice, base._bundle(), filename="schedule.json")
    assert report.committed
    assert languages(session) == {"Maria": "en", "Grace": "en"}
