"""Staff Users service: the directory, add/update/disable/reset/unlock, and who may act."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from models import Role, StaffPractice, StaffUser
from services import practice_settings, staff_users
from services.auth import check_password
from services.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from tests.factories import make_practice, make_user
from tests.services.admin_support import (  # noqa: F401 (clinic_fixture is a fixture)
    NEW_PASSWORD,
    clinic_fixture,
    events,
    memberships,
)

# --- last admin and self -------------------------------------------------------------------------


def test_the_last_enabled_admin_cannot_demote_themselves(session):
    practice = make_practice(session)
    only = make_user(session, role=Role.admin, practices=[practice], username="only")
    with pytest.raises(Conflict, match="last enabled administrator"):
        staff_users.update_staff_user(session, actor_id=only.id, practice_id=practice.id,
                                      user_id=only.id, role=Role.staff, practice_ids=[practice.id])
    assert session.get(StaffUser, only.id).role == Role.admin


def test_the_last_enabled_admin_cannot_disable_themselves(session):
    practice = make_practice(session)
    only = make_user(session, role=Role.admin, practices=[practice], username="only")
    # A disabled admin elsewhere does not count as a remaining administrator.
    make_user(session, role=Role.admin, practices=[practice], disabled=True)
    with pytest.raises(Conflict, match="last enabled administrator"):
        staff_users.set_user_disabled(session, actor_id=only.id, practice_id=practice.id,
                                      user_id=only.id, disabled=True)
    assert not session.get(StaffUser, only.id).disabled


def test_an_admin_cannot_demote_themselves_even_with_another_admin(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(PermissionDenied, match="cannot demote yourself"):
        staff_users.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                      user_id=boss.id, role=Role.supervisor,
                                      practice_ids=[practice.id])
    assert session.get(StaffUser, boss.id).role == Role.admin
    assert not events(session, "user_role_changed")


def test_an_admin_cannot_disable_themselves(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(PermissionDenied, match="cannot disable yourself"):
        staff_users.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                                      user_id=boss.id, disabled=True)


def test_an_admin_cannot_remove_themselves_from_a_practice(session, clinic):
    practice, _, boss, _, _, _ = clinic
    second = make_practice(session)
    session.add(StaffPractice(staff_user_id=boss.id, practice_id=second.id))
    session.flush()
    with pytest.raises(PermissionDenied, match="remove yourself"):
        staff_users.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                      user_id=boss.id, role=Role.admin, practice_ids=[practice.id])
    assert memberships(session, boss.id) == {practice.id, second.id}


def test_another_admin_can_be_demoted_and_disabled(session, clinic):
    practice, _, boss, deputy, _, _ = clinic
    staff_users.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                  user_id=deputy.id, role=Role.supervisor,
                                  practice_ids=[practice.id])
    staff_users.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                                  user_id=deputy.id, disabled=True)
    deputy = session.get(StaffUser, deputy.id)
    assert (deputy.role, deputy.disabled) == (Role.supervisor, True)
    (role_event,) = events(session, "user_role_changed")
    assert json.loads(role_event.detail) == {"new": "supervisor", "old": "admin",
                                             "username": "deputy"}
    assert role_event.actor == "boss" and role_event.practice_id == practice.id
    assert len(events(session, "user_disabled")) == 1


def test_a_non_admin_cannot_administer(session, clinic):
    practice, _, _, _, desk, _ = clinic
    with pytest.raises(PermissionDenied):
        staff_users.get_staff_directory(session, actor_id=desk.id, practice_id=practice.id)
    with pytest.raises(PermissionDenied):
        practice_settings.add_location(session, actor_id=desk.id, practice_id=practice.id,
                                       name="Annex")


def test_a_disabled_admin_cannot_administer(session, clinic):
    practice, _, boss, deputy, _, _ = clinic
    deputy.disabled = True
    session.add(deputy)
    session.flush()
    with pytest.raises(PermissionDenied):
        staff_users.unlock_user(session, actor_id=deputy.id, practice_id=practice.id,
                                user_id=boss.id)


# --- staff users ---------------------------------------------------------------------------------


def test_add_staff_user_creates_a_member_and_audits_it(session, clinic):
    practice, _, boss, _, _, _ = clinic
    user = staff_users.add_staff_user(
        session, actor_id=boss.id, practice_id=practice.id, username="New.Desk",
        name="Nia Desk", email="nia@example.org", role=Role.staff,
        password="long-enough-pass", practice_ids=[practice.id],
    )
    assert user.username == "new.desk"
    assert memberships(session, user.id) == {practice.id}
    assert check_password("long-enough-pass", session.get(StaffUser, user.id).password_hash)
    assert len(events(session, "user_created")) == 1
    (added,) = events(session, "user_practice_added")
    assert added.practice_id == practice.id and added.actor == "boss"


def test_add_staff_user_needs_a_practice_and_names_the_field(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(InvalidInput) as error:
        staff_users.add_staff_user(
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
        staff_users.add_staff_user(session, actor_id=boss.id, practice_id=practice.id, **fields)
    assert error.value.field == field
    assert field.capitalize() in error.value.message


def test_add_staff_user_rejects_a_weak_password(session, clinic):
    practice, _, boss, _, _, _ = clinic
    with pytest.raises(InvalidInput, match="too short"):
        staff_users.add_staff_user(
            session, actor_id=boss.id, practice_id=practice.id, username="weak",
            name="Weak Pass", email="wp@example.org", role=Role.staff, password="short",
            practice_ids=[practice.id],
        )


def test_directory_lists_only_this_practices_users(session, clinic):
    practice, _, boss, _, _, _ = clinic
    directory = staff_users.get_staff_directory(session, actor_id=boss.id, practice_id=practice.id)
    assert {u.username for u in directory.users} == {"boss", "deputy", "desk"}
    assert [p.name for p in directory.practices] == ["Sunny Peds"]


def test_update_staff_user_changes_practices_within_the_admins_own(session, clinic):
    practice, other, boss, _, desk, _ = clinic
    second = make_practice(session, name="Second Peds")
    session.add(StaffPractice(staff_user_id=boss.id, practice_id=second.id))
    # desk also works in a practice the admin does not belong to: that membership stays.
    session.add(StaffPractice(staff_user_id=desk.id, practice_id=other.id))
    session.flush()
    staff_users.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                  user_id=desk.id, role=Role.staff, practice_ids=[second.id])
    assert memberships(session, desk.id) == {second.id, other.id}
    assert [e.practice_id for e in events(session, "user_practice_added")] == [second.id]
    assert [e.practice_id for e in events(session, "user_practice_removed")] == [practice.id]


def test_update_staff_user_refuses_a_foreign_practice(session, clinic):
    practice, other, boss, _, desk, _ = clinic
    with pytest.raises(PermissionDenied, match="practices you belong to"):
        staff_users.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                      user_id=desk.id, role=Role.staff,
                                      practice_ids=[practice.id, other.id])
    assert memberships(session, desk.id) == {practice.id}


def test_update_staff_user_rejects_an_unknown_role(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    with pytest.raises(InvalidInput) as error:
        staff_users.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                      user_id=desk.id, role="owner", practice_ids=[practice.id])
    assert error.value.field == "Role"


def test_users_of_another_practice_are_out_of_reach(session, clinic):
    practice, other, boss, _, _, stranger = clinic
    for call in (
        lambda: staff_users.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                                              user_id=stranger.id, disabled=True),
        lambda: staff_users.reset_user_password(session, actor_id=boss.id, practice_id=practice.id,
                                                user_id=stranger.id, password=NEW_PASSWORD),
        lambda: staff_users.unlock_user(session, actor_id=boss.id, practice_id=practice.id,
                                        user_id=stranger.id),
    ):
        with pytest.raises(NotFound):
            call()
    # Naming the other practice as the context is refused too.
    with pytest.raises(PermissionDenied):
        staff_users.set_user_disabled(session, actor_id=boss.id, practice_id=other.id,
                                      user_id=stranger.id, disabled=True)
    assert not session.get(StaffUser, stranger.id).disabled


def test_disable_then_enable_is_audited_each_time(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    staff_users.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                                  user_id=desk.id, disabled=True)
    staff_users.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                                  user_id=desk.id, disabled=False)
    assert not session.get(StaffUser, desk.id).disabled
    assert len(events(session, "user_disabled")) == 1
    assert len(events(session, "user_enabled")) == 1


def test_reset_password_sets_a_new_hash_and_lifts_the_lock(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    desk.locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    desk.failed_logins = 3
    session.add(desk)
    session.flush()
    staff_users.reset_user_password(session, actor_id=boss.id, practice_id=practice.id,
                                    user_id=desk.id, password=NEW_PASSWORD)
    desk = session.get(StaffUser, desk.id)
    assert check_password(NEW_PASSWORD, desk.password_hash)
    assert desk.locked_until is None and desk.failed_logins == 0
    (event,) = events(session, "user_password_reset")
    assert NEW_PASSWORD not in event.detail


def test_reset_password_names_the_field_on_a_weak_password(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    with pytest.raises(InvalidInput) as error:
        staff_users.reset_user_password(session, actor_id=boss.id, practice_id=practice.id,
                                        user_id=desk.id, password="desk-12345678")
    assert error.value.field == "New password"
    assert "username" in error.value.message


def test_unlock_clears_the_lock_and_failures(session, clinic):
    practice, _, boss, _, desk, _ = clinic
    desk.locked_until = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)
    desk.failed_logins = 4
    session.add(desk)
    session.flush()
    directory = staff_users.get_staff_directory(session, actor_id=boss.id, practice_id=practice.id)
    assert next(u for u in directory.users if u.username == "desk").locked
    staff_users.unlock_user(session, actor_id=boss.id, practice_id=practice.id, user_id=desk.id)
    desk = session.get(StaffUser, desk.id)
    assert desk.locked_until is None and desk.failed_logins == 0
    assert len(events(session, "user_unlocked")) == 1


def test_a_user_shared_with_a_practice_the_admin_does_not_run_is_beyond_reach(session, clinic):
    # desk works in Sunny Peds (the admin's) and in Other Peds (not the admin's): resetting
    # their password, disabling them or making them an administrator would reach into
    # Other Peds, so each is refused and nothing changes.
    practice, other, boss, _, desk, _ = clinic
    session.add(StaffPractice(staff_user_id=desk.id, practice_id=other.id))
    session.flush()
    old_hash = session.get(StaffUser, desk.id).password_hash
    for call in (
        lambda: staff_users.reset_user_password(session, actor_id=boss.id, practice_id=practice.id,
                                                user_id=desk.id, password=NEW_PASSWORD),
        lambda: staff_users.set_user_disabled(session, actor_id=boss.id, practice_id=practice.id,
                                              user_id=desk.id, disabled=True),
        lambda: staff_users.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                              user_id=desk.id, role=Role.admin,
                                              practice_ids=[practice.id]),
    ):
        with pytest.raises(PermissionDenied, match="do not administer"):
            call()
    row = session.get(StaffUser, desk.id)
    assert (row.password_hash, row.disabled, row.role) == (old_hash, False, Role.staff)
