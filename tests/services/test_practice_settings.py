"""Practice Settings service: the practice's fields, holidays, locations and providers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from models import Holiday, Location, Provider
from services import practice_settings
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tests.factories import make_location, make_provider
from tests.services.admin_support import clinic_fixture, events  # noqa: F401 (a fixture)

# --- practice settings ---------------------------------------------------------------------------


def _update(session, practice, actor, **changes):
    fields = dict(
        name=practice.name, timezone=practice.timezone, portal_url=practice.portal_url,
        pin_lifetime_days=practice.pin_lifetime_days, minor_age_limit=practice.minor_age_limit,
        phone=practice.phone, email=practice.email, address=practice.address,
    )
    fields.update(changes)
    return practice_settings.update_practice(session, actor_id=actor.id, practice_id=practice.id,
                                             **fields)


def test_update_practice_saves_and_audits_each_changed_field(session, clinic):
    practice, _, boss, _, _, _ = clinic
    info = _update(session, practice, boss, name="Sunny Pediatrics", timezone="America/Chicago",
                   portal_url="https://portal.sunny.example/", pin_lifetime_days=21,
                   minor_age_limit=19, phone="617 555 0100", email="Desk@Sunny.example",
                   address="1 Main  St")
    assert info.name == "Sunny Pediatrics"
    assert info.portal_url == "https://portal.sunny.example"
    assert info.phone == "(617) 555-0100"
    assert info.email == "Desk@sunny.example"
    assert (info.pin_lifetime_days, info.minor_age_limit) == (21, 19)
    (event,) = events(session, "practice_updated")
    changes = json.loads(event.detail)["changes"]
    assert set(changes) == {"name", "timezone", "portal_url", "pin_lifetime_days",
                            "minor_age_limit", "phone", "email", "address"}
    assert changes["pin_lifetime_days"] == [14, 21]


def test_audit_retention_may_grow_but_never_below_six_years(session, clinic):
    practice, _, boss, _, _, _ = clinic
    assert _update(session, practice, boss).audit_retention_years == 6
    assert _update(session, practice, boss, audit_retention_years=10).audit_retention_years == 10
    assert _update(session, practice, boss).audit_retention_years == 10  # not given: kept
    with pytest.raises(InvalidInput, match="Audit retention"):
        _update(session, practice, boss, audit_retention_years=5)


def test_update_practice_without_changes_writes_no_event(session, clinic):
    practice, _, boss, _, _, _ = clinic
    _update(session, practice, boss)
    assert not events(session, "practice_updated")


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "  "}, "Practice name"),
    ({"timezone": "Mars/Olympus"}, "Timezone"),
    ({"portal_url": "portal.example.org"}, "Portal URL"),
    ({"pin_lifetime_days": 0}, "PIN lifetime (days)"),
    ({"minor_age_limit": 31}, "Minor age limit"),
    ({"audit_retention_years": 5}, "Audit retention (years)"),
    ({"phone": "12"}, "Phone"),
    ({"email": "not-an-address"}, "Email"),
    ({"name": "Other Peds"}, "Practice name"),
])
def test_update_practice_names_the_bad_field(session, clinic, changes, field):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises((InvalidInput, Conflict)) as error:
        _update(session, practice, boss, **changes)
    assert error.value.field == field
    assert field.split(" ")[0] in error.value.message


def test_a_practice_of_which_the_admin_is_not_a_member_cannot_be_edited(session, clinic):
    _, other, boss, _, _, _ = clinic
    with pytest.raises(PermissionDenied):
        _update(session, other, boss, name="Taken Over")
    with pytest.raises(PermissionDenied):
        practice_settings.add_holiday(session, actor_id=boss.id, practice_id=other.id,
                                      day=dt.date(2030, 1, 1))
    assert other.name == "Other Peds"


def test_holidays_are_added_listed_and_removed(session, clinic):
    practice, _, boss, _, _, _ = clinic
    day = dt.date(2030, 7, 4)
    holiday = practice_settings.add_holiday(session, actor_id=boss.id, practice_id=practice.id,
                                            day=day, name="Independence Day")
    with pytest.raises(Conflict) as error:
        practice_settings.add_holiday(session, actor_id=boss.id, practice_id=practice.id, day=day)
    assert error.value.field == "Date"
    assert error.value.message == "Date 07/04/2030 is already a holiday."
    settings = practice_settings.get_practice_settings(session, actor_id=boss.id,
                                                       practice_id=practice.id)
    assert [(h.day, h.name) for h in settings.holidays] == [(day, "Independence Day")]
    practice_settings.remove_holiday(session, actor_id=boss.id, practice_id=practice.id,
                                     holiday_id=holiday.id)
    assert session.exec(select(Holiday)).all() == []
    assert len(events(session, "holiday_added")) == 1
    assert len(events(session, "holiday_removed")) == 1


def test_a_holiday_of_another_practice_cannot_be_removed(session, clinic):
    practice, other, boss, _, _, _ = clinic
    foreign = Holiday(practice_id=other.id, day=dt.date(2030, 12, 25))
    session.add(foreign)
    session.flush()
    with pytest.raises(NotFound):
        practice_settings.remove_holiday(session, actor_id=boss.id, practice_id=practice.id,
                                         holiday_id=foreign.id)


def test_locations_and_providers_are_added_and_renamed(session, clinic):
    practice, _, boss, _, _, _ = clinic
    location = practice_settings.add_location(session, actor_id=boss.id, practice_id=practice.id,
                                              name=" Main  Street ")
    provider = practice_settings.add_provider(session, actor_id=boss.id, practice_id=practice.id,
                                              name="Dr. Ada Lee")
    assert location.name == "Main Street"
    practice_settings.rename_location(session, actor_id=boss.id, practice_id=practice.id,
                                      location_id=location.id, name="Main Street Office")
    practice_settings.rename_provider(session, actor_id=boss.id, practice_id=practice.id,
                                      provider_id=provider.id, name="Dr. Ada Lee-Park")
    assert session.get(Location, location.id).name == "Main Street Office"
    assert session.get(Provider, provider.id).name == "Dr. Ada Lee-Park"
    for action in ("location_added", "location_renamed", "provider_added", "provider_renamed"):
        (event,) = events(session, action)
        assert event.practice_id == practice.id and event.actor == "boss"


def test_duplicate_location_names_are_refused_whatever_the_case(session, clinic):
    practice, _, boss, _, _, _ = clinic
    make_location(session, practice, name="Northside")
    with pytest.raises(Conflict) as error:
        practice_settings.add_location(session, actor_id=boss.id, practice_id=practice.id,
                                       name="northside")
    assert error.value.field == "Location name"


def test_a_provider_of_another_practice_cannot_be_renamed(session, clinic):
    practice, other, boss, _, _, _ = clinic
    foreign = make_provider(session, other, name="Dr. Elsewhere")
    with pytest.raises(NotFound):
        practice_settings.rename_provider(session, actor_id=boss.id, practice_id=practice.id,
                                          provider_id=foreign.id, name="Dr. Mine")
    assert session.get(Provider, foreign.id).name == "Dr. Elsewhere"


def test_an_empty_provider_name_names_the_field(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(InvalidInput) as error:
        practice_settings.add_provider(session, actor_id=boss.id, practice_id=practice.id,
                                       name="  ")
    assert error.value.field == "Provider name"


def test_confidential_age_is_saved_turned_off_and_checked(session, clinic):
    practice, _, boss, _, _, _ = clinic
    assert _update(session, practice, boss, confidential_age=13).confidential_age == 13
    assert _update(session, practice, boss).confidential_age == 13  # not given: kept
    assert _update(session, practice, boss, confidential_age=None).confidential_age is None
    with pytest.raises(InvalidInput) as error:
        _update(session, practice, boss, confidential_age=18)  # the minor age limit
    assert error.value.field == "Confidential age"
