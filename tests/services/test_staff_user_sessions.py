"""Staff Users and sessions: a password reset, a role change, disabling and removing a
membership end the user's sessions; an admin sees them and can end them."""

from __future__ import annotations

import pytest

from models import Role
from services import staff_users
from services.errors import PermissionDenied
from services.sessions import create_session, session_username
from tests.services.admin_support import NEW_PASSWORD, clinic_fixture, events  # noqa: F401


def _open_two(session, user) -> list[str]:
    opened = [create_session(session, user_id=user.id, client=f"ip:10.0.0.{n}")
              for n in (1, 2)]
    session.commit()
    return opened


def _all_ended(session, opened) -> bool:
    return all(session_username(session, session_id=s) is None for s in opened)


@pytest.mark.parametrize("change", ["password", "role", "disable", "membership"])
def test_a_change_to_a_user_ends_their_sessions(session, clinic, change):
    practice, other, boss, _deputy, desk, _stranger = clinic
    session.commit()
    opened = _open_two(session, desk)
    bystander = _open_two(session, boss)
    common = {"actor_id": boss.id, "practice_id": practice.id, "user_id": desk.id}
    if change == "password":
        staff_users.reset_user_password(session, **common, password=NEW_PASSWORD)
    elif change == "role":
        staff_users.update_staff_user(session, **common, role=Role.supervisor,
                                      practice_ids=[practice.id])
    elif change == "disable":
        staff_users.set_user_disabled(session, **common, disabled=True)
    else:
        from models import StaffPractice
        from tests.factories import make_practice
        from tests.services.admin_support import memberships
        second = make_practice(session, name="Second Peds")
        for user in (boss, desk):
            session.add(StaffPractice(staff_user_id=user.id, practice_id=second.id))
        session.commit()
        staff_users.update_staff_user(session, **common, role=Role.staff,
                                      practice_ids=[practice.id])
        assert memberships(session, desk.id) == {practice.id}
    session.commit()
    assert _all_ended(session, opened)
    assert not _all_ended(session, bystander)
    assert events(session, "sessions_ended")


def test_saving_without_a_change_keeps_the_sessions(session, clinic):
    practice, _other, boss, _deputy, desk, _stranger = clinic
    session.commit()
    opened = _open_two(session, desk)
    staff_users.update_staff_user(session, actor_id=boss.id, practice_id=practice.id,
                                  user_id=desk.id, role=Role.staff, practice_ids=[practice.id])
    session.commit()
    assert all(session_username(session, session_id=s) == "desk" for s in opened)


def test_an_admin_lists_and_ends_a_users_sessions(session, clinic):
    practice, _other, boss, _deputy, desk, _stranger = clinic
    session.commit()
    opened = _open_two(session, desk)
    listed = staff_users.list_user_sessions(session, actor_id=boss.id, practice_id=practice.id,
                                            user_id=desk.id)
    assert sorted(s.client for s in listed) == ["ip:10.0.0.1", "ip:10.0.0.2"]
    assert staff_users.end_user_sessions(session, actor_id=boss.id, practice_id=practice.id,
                                         user_id=desk.id) == 2
    session.commit()
    assert _all_ended(session, opened)
    assert staff_users.list_user_sessions(session, actor_id=boss.id, practice_id=practice.id,
                                          user_id=desk.id) == []


def test_a_non_admin_cannot_end_sessions(session, clinic):
    practice, _other, _boss, _deputy, desk, _stranger = clinic
    session.commit()
    with pytest.raises(PermissionDenied):
        staff_users.end_user_sessions(session, actor_id=desk.id, practice_id=practice.id,
                                      user_id=desk.id)
