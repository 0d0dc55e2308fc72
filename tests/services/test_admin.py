"""Administration: staff users, practice settings, holidays, locations, providers."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from models import AuditEvent, Holiday, Location, Provider, Role, StaffPractice, StaffUser
from services import admin
from services.auth import check_password
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tests.factories import make_location, make_practice, make_provider, make_user

NEW_PASSWORD = "a-brand-new-secret"


@pytest.fixture
def clinic(session):
    """A practice with an admin, a second admin, a front-desk user; and a foreign practice."""
    practice = make_practice(session, name="Sunny Peds")
    other = make_practice(session, name="Other Peds")
    boss = make_user(session, role=Role.admin, practices=[practice], username="boss")
    deputy = make_user(session, role=Role.admin, practices=[practice], username="deputy")
    desk = make_user(session, role=Role.staff, practices=[practice], username="desk")
    stranger = make_user(session, role=Role.staff, practices=[other], username="stranger")
    return practice, other, boss, deputy, desk, stranger


def _events(session, action: str) -> list[AuditEvent]:
    return list(session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())


def _memberships(session, user_id: int) -> set[int]:
    return set(session.exec(
        select(StaffPractice.practice_id).where(StaffPractice.staff_user_id == user_id)
    ).all())


# --- last admin and self -------------------------------------------------------------------------


def test_the_last_enabled_admin_cannot_demote_themselves(session):
    practice = make_practice(session)
    only = make_user(session, role=Role.admin, practices=[practice], username="only")
    with pytest.raises(Conflict, match="last enabled administrator"):
        admin.update_staff_user(session, actor_id=only.id, practice_id=practice.id,
                                user_id=only.id, role=Role.staff, practice_ids=[practice.id])
    assert session.get(StaffUser, only.id).role == Role.admin


def test_the_last_enabled_admin_cannot_disable_themselves(session):
    practice = make_practice(session)
    only = make_user(session, role=Role.admin, practices=[practice], username="only")
    # A disabled admin elsewhere does not count as a remaining administrator.
    make_user(session, role=Role.admin, practices=[practice], disabled=True)
    with pytest.raises(Conflict, match="last enabled administrator"):
        admin.set_user_disabled(session, actor_id=only.id, practice_id=practice.id,
                                user_id=only.id, disabled=True)
    assert not session.get(StaffUser, only.id).disabled


def test_an_admin_cannot_demote_themselves_even_with_another_admin(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(PermissionDenied, match="cannot demote yourself"):
        admin.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                user_id=boss.id, role=Role.supervisor, practice_ids=[practice.id])
    assert session.get(StaffUser, boss.id).role == Role.admin
    assert not _events(session, "user_role_changed")


def test_an_admin_cannot_disable_themselves(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(PermissionDenied, match="cannot disable yourself"):
        admin.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                                user_id=boss.id, disabled=True)


def test_an_admin_cannot_remove_themselves_from_a_practice(session, clinic):
    practice, _, boss, _, _, _ = clinic
    second = make_practice(session)
    session.add(StaffPractice(staff_user_id=boss.id, practice_id=second.id))
    session.flush()
    with pytest.raises(PermissionDenied, match="remove yourself"):
        admin.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                user_id=boss.id, role=Role.admin, practice_ids=[practice.id])
    assert _memberships(session, boss.id) == {practice.id, second.id}


def test_another_admin_can_be_demoted_and_disabled(session, clinic):
    practice, _, boss, deputy, _, _ = clinic
    admin.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                            user_id=deputy.id, role=Role.supervisor, practice_ids=[practice.id])
    admin.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                            user_id=deputy.id, disabled=True)
    deputy = session.get(StaffUser, deputy.id)
    assert (deputy.role, deputy.disabled) == (Role.supervisor, True)
    (role_event,) = _events(session, "user_role_changed")
    assert json.loads(role_event.detail) == {"new": "supervisor", "old": "admin",
                                             "username": "deputy"}
    assert role_event.actor == "boss" and role_event.practice_id == practice.id
    assert len(_events(session, "user_disabled")) == 1


def test_a_non_admin_cannot_administer(session, clinic):
    practice, _, _, _, desk, _ = clinic
    with pytest.raises(PermissionDenied):
        admin.get_staff_directory(session, actor_id=desk.id, practice_id=practice.id)
    with pytest.raises(PermissionDenied):
        admin.add_location(session, actor_id=desk.id, practice_id=practice.id, name="Annex")


def test_a_disabled_admin_cannot_administer(session, clinic):
    practice, _, boss, deputy, _, _ = clinic
    deputy.disabled = True
    session.add(deputy)
    session.flush()
    with pytest.raises(PermissionDenied):
        admin.unlock_user(session, actor_id=deputy.id, practice_id=practice.id, user_id=boss.id)


# --- staff users ---------------------------------------------------------------------------------


def test_add_staff_user_creates_a_member_and_audits_it(session, clinic):
    practice, _, boss, _, _, _ = clinic
    user = admin.add_staff_user(
        session, actor_id=boss.id, practice_id=practice.id, username="New.Desk",
        name="Nia Desk", email="nia@example.org", role=Role.staff,
        password="long-enough-pass", practice_ids=[practice.id],
    )
    assert user.username == "new.desk"
    assert _memberships(session, user.id) == {practice.id}
    assert check_password("long-enough-pass", session.get(StaffUser, user.id).password_hash)
    assert len(_events(session, "user_created")) == 1
    (added,) = _events(session, "user_practice_added")
    assert added.practice_id == practice.id and added.actor == "boss"


def test_add_staff_user_needs_a_practice_and_names_the_field(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(InvalidInput) as error:
        admin.add_staff_user(
            session, actor_id=boss.id, practice_id=practice.id, username="nobody",
            name="No Body", email="nb@example.org", role=Role.staff,
            password="long-enough-pass", practice_ids=[],
        )
    assert error.value.field == "Practices"
    assert session.exec(select(StaffUser).where(StaffUser.username == "nobody")).first() is None


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": " "}, "Full name"), ({"email": "nia@"}, "Email"), ({"username": "a b"}, "username"),
])
def test_add_staff_user_names_the_bad_field(session, clinic, changes, field):
    practice, _, boss, _, _, _ = clinic
    fields = dict(username="nia", name="Nia Desk", email="nia@example.org", role=Role.staff,
                  password="long-enough-pass", practice_ids=[practice.id]) | changes
    with pytest.raises(InvalidInput) as error:
        admin.add_staff_user(session, actor_id=boss.id, practice_id=practice.id, **fields)
    assert error.value.field == field
    assert field.capitalize() in error.value.message


def test_add_staff_user_rejects_a_weak_password(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(InvalidInput, match="too short"):
        admin.add_staff_user(
            session, actor_id=boss.id, practice_id=practice.id, username="weak",
            name="Weak Pass", email="wp@example.org", role=Role.staff, password="short",
            practice_ids=[practice.id],
        )


def test_directory_lists_only_this_practices_users(session, clinic):
    practice, _, boss, _, _, _ = clinic
    directory = admin.get_staff_directory(session, actor_id=boss.id, practice_id=practice.id)
    assert {u.username for u in directory.users} == {"boss", "deputy", "desk"}
    assert [p.name for p in directory.practices] == ["Sunny Peds"]


def test_update_staff_user_changes_practices_within_the_admins_own(session, clinic):
    practice, other, boss, _, desk, _ = clinic
    second = make_practice(session, name="Second Peds")
    session.add(StaffPractice(staff_user_id=boss.id, practice_id=second.id))
    # desk also works in a practice the admin does not belong to: that membership stays.
    session.add(StaffPractice(staff_user_id=desk.id, practice_id=other.id))
    session.flush()
    admin.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                            user_id=desk.id, role=Role.staff, practice_ids=[second.id])
    assert _memberships(session, desk.id) == {second.id, other.id}
    assert [e.practice_id for e in _events(session, "user_practice_added")] == [second.id]
    assert [e.practice_id for e in _events(session, "user_practice_removed")] == [practice.id]


def test_update_staff_user_refuses_a_foreign_practice(session, clinic):
    practice, other, boss, _, desk, _ = clinic
    with pytest.raises(PermissionDenied, match="practices you belong to"):
        admin.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                user_id=desk.id, role=Role.staff,
                                practice_ids=[practice.id, other.id])
    assert _memberships(session, desk.id) == {practice.id}


def test_update_staff_user_rejects_an_unknown_role(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    with pytest.raises(InvalidInput) as error:
        admin.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                user_id=desk.id, role="owner", practice_ids=[practice.id])
    assert error.value.field == "Role"


def test_users_of_another_practice_are_out_of_reach(session, clinic):
    practice, other, boss, _, _, stranger = clinic
    for call in (
        lambda: admin.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                                        user_id=stranger.id, disabled=True),
        lambda: admin.reset_user_password(session, actor_id=boss.id, practice_id=practice.id,
                                          user_id=stranger.id, password=NEW_PASSWORD),
        lambda: admin.unlock_user(session, actor_id=boss.id, practice_id=practice.id,
                                  user_id=stranger.id),
    ):
        with pytest.raises(NotFound):
            call()
    # Naming the other practice as the context is refused too.
    with pytest.raises(PermissionDenied):
        admin.set_user_disabled(session, actor_id=boss.id, practice_id=other.id,
                                user_id=stranger.id, disabled=True)
    assert not session.get(StaffUser, stranger.id).disabled


def test_disable_then_enable_is_audited_each_time(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    admin.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                            user_id=desk.id, disabled=True)
    admin.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                            user_id=desk.id, disabled=False)
    assert not session.get(StaffUser, desk.id).disabled
    assert len(_events(session, "user_disabled")) == 1
    assert len(_events(session, "user_enabled")) == 1


def test_reset_password_sets_a_new_hash_and_lifts_the_lock(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    desk.locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    desk.failed_logins = 3
    session.add(desk)
    session.flush()
    admin.reset_user_password(session, actor_id=boss.id, practice_id=practice.id,
                              user_id=desk.id, password=NEW_PASSWORD)
    desk = session.get(StaffUser, desk.id)
    assert check_password(NEW_PASSWORD, desk.password_hash)
    assert desk.locked_until is None and desk.failed_logins == 0
    (event,) = _events(session, "user_password_reset")
    assert NEW_PASSWORD not in event.detail


def test_reset_password_names_the_field_on_a_weak_password(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    with pytest.raises(InvalidInput) as error:
        admin.reset_user_password(session, actor_id=boss.id, practice_id=practice.id,
                                  user_id=desk.id, password="desk-12345678")
    assert error.value.field == "New password"
    assert "username" in error.value.message


def test_unlock_clears_the_lock_and_failures(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    desk.locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    desk.failed_logins = 4
    session.add(desk)
    session.flush()
    directory = admin.get_staff_directory(session, actor_id=boss.id, practice_id=practice.id)
    assert next(u for u in directory.users if u.username == "desk").locked
    admin.unlock_user(session, actor_id=boss.id, practice_id=practice.id, user_id=desk.id)
    desk = session.get(StaffUser, desk.id)
    assert desk.locked_until is None and desk.failed_logins == 0
    assert len(_events(session, "user_unlocked")) == 1


# --- practice settings ---------------------------------------------------------------------------


def _update(session, practice, actor, **changes):
    fields = dict(
        name=practice.name, timezone=practice.timezone, portal_url=practice.portal_url,
        pin_lifetime_days=practice.pin_lifetime_days, minor_age_limit=practice.minor_age_limit,
        phone=practice.phone, email=practice.email, address=practice.address,
    )
    fields.update(changes)
    return admin.update_practice(session, actor_id=actor.id, practice_id=practice.id, **fields)


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
    (event,) = _events(session, "practice_updated")
    changes = json.loads(event.detail)["changes"]
    assert set(changes) == {"name", "timezone", "portal_url", "pin_lifetime_days",
                            "minor_age_limit", "phone", "email", "address"}
    assert changes["pin_lifetime_days"] == [14, 21]


def test_update_practice_without_changes_writes_no_event(session, clinic):
    practice, _, boss, _, _, _ = clinic
    _update(session, practice, boss)
    assert not _events(session, "practice_updated")


@pytest.mark.parametrize(("changes", "field"), [
    ({"name": "  "}, "Practice name"),
    ({"timezone": "Mars/Olympus"}, "Timezone"),
    ({"portal_url": "portal.example.org"}, "Portal URL"),
    ({"pin_lifetime_days": 0}, "PIN lifetime (days)"),
    ({"minor_age_limit": 31}, "Minor age limit"),
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
        admin.add_holiday(session, actor_id=boss.id, practice_id=other.id,
                          day=dt.date(2030, 1, 1))
    assert other.name == "Other Peds"


def test_holidays_are_added_listed_and_removed(session, clinic):
    practice, _, boss, _, _, _ = clinic
    day = dt.date(2030, 7, 4)
    holiday = admin.add_holiday(session, actor_id=boss.id, practice_id=practice.id, day=day,
                                name="Independence Day")
    with pytest.raises(Conflict) as error:
        admin.add_holiday(session, actor_id=boss.id, practice_id=practice.id, day=day)
    assert error.value.field == "Date"
    settings = admin.get_practice_settings(session, actor_id=boss.id, practice_id=practice.id)
    assert [(h.day, h.name) for h in settings.holidays] == [(day, "Independence Day")]
    admin.remove_holiday(session, actor_id=boss.id, practice_id=practice.id,
                         holiday_id=holiday.id)
    assert session.exec(select(Holiday)).all() == []
    assert len(_events(session, "holiday_added")) == 1
    assert len(_events(session, "holiday_removed")) == 1


def test_a_holiday_of_another_practice_cannot_be_removed(session, clinic):
    practice, other, boss, _, _, _ = clinic
    foreign = Holiday(practice_id=other.id, day=dt.date(2030, 12, 25))
    session.add(foreign)
    session.flush()
    with pytest.raises(NotFound):
        admin.remove_holiday(session, actor_id=boss.id, practice_id=practice.id,
                             holiday_id=foreign.id)


def test_locations_and_providers_are_added_and_renamed(session, clinic):
    practice, _, boss, _, _, _ = clinic
    location = admin.add_location(session, actor_id=boss.id, practice_id=practice.id,
                                  name=" Main  Street ")
    provider = admin.add_provider(session, actor_id=boss.id, practice_id=practice.id,
                                  name="Dr. Ada Lee")
    assert location.name == "Main Street"
    admin.rename_location(session, actor_id=boss.id, practice_id=practice.id,
                          location_id=location.id, name="Main Street Office")
    admin.rename_provider(session, actor_id=boss.id, practice_id=practice.id,
                          provider_id=provider.id, name="Dr. Ada Lee-Park")
    assert session.get(Location, location.id).name == "Main Street Office"
    assert session.get(Provider, provider.id).name == "Dr. Ada Lee-Park"
    for action in ("location_added", "location_renamed", "provider_added", "provider_renamed"):
        (event,) = _events(session, action)
        assert event.practice_id == practice.id and event.actor == "boss"


def test_duplicate_location_names_are_refused_whatever_the_case(session, clinic):
    practice, _, boss, _, _, _ = clinic
    make_location(session, practice, name="Northside")
    with pytest.raises(Conflict) as error:
        admin.add_location(session, actor_id=boss.id, practice_id=practice.id, name="northside")
    assert error.value.field == "Location name"


def test_a_provider_of_another_practice_cannot_be_renamed(session, clinic):
    practice, other, boss, _, _, _ = clinic
    foreign = make_provider(session, other, name="Dr. Elsewhere")
    with pytest.raises(NotFound):
        admin.rename_provider(session, actor_id=boss.id, practice_id=practice.id,
                              provider_id=foreign.id, name="Dr. Mine")
    assert session.get(Provider, foreign.id).name == "Dr. Elsewhere"


def test_an_empty_provider_name_names_the_field(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(InvalidInput) as error:
        admin.add_provider(session, actor_id=boss.id, practice_id=practice.id, name="  ")
    assert error.value.field == "Provider name"


def test_a_user_shared_with_a_practice_the_admin_does_not_run_is_beyond_reach(session, clinic):
    # desk works in Sunny Peds (the admin's) and in Other Peds (not the admin's): resetting
    # their password, disabling them or making them an administrator would reach into
    # Other Peds, so each is refused and nothing changes.
    practice, other, boss, _, desk, _ = clinic
    session.add(StaffPractice(staff_user_id=desk.id, practice_id=other.id))
    session.flush()
    old_hash = session.get(StaffUser, desk.id).password_hash
    for call in (
        lambda: admin.reset_user_password(session, actor_id=boss.id, practice_id=practice.id,
                                          user_id=desk.id, password=NEW_PASSWORD),
        lambda: admin.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                                        user_id=desk.id, disabled=True),
        lambda: admin.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                        user_id=desk.id, role=Role.admin,
                                        practice_ids=[practice.id]),
    ):
        with pytest.raises(PermissionDenied, match="do not administer"):
            call()
    row = session.get(StaffUser, desk.id)
    assert (row.password_hash, row.disabled, row.role) == (old_hash, False, Role.staff)
