"""The Dashboard's `Register all` in AppTest: confirmation with counts and skipped reasons,
the run, the summary and the letters; supervisors do not see it."""

from __future__ import annotations

from sqlmodel import func, select

from models import AuditEvent, Enrollment, Role
from tests.factories import make_user
from tests.pages.helpers import texts
from tests.pages.test_dashboard import Clinic, clinic, open_dashboard  # noqa: F401


def button(at, key):
    return at.button(key=key)


def test_register_all_confirms_then_invites_and_offers_the_letters(clinic):  # noqa: F811
    at = open_dashboard(clinic)
    button(at, "bulk_register_open").click().run()
    shown = texts(at)
    # Rivera has a guardian email; Chen has no guardian; Ortiz is Active already.
    assert "**1 patient** in this list will be invited" in shown
    assert "1 already invited or active" in shown
    assert any("1 will be skipped (No guardian on file: 1)" in e.label for e in at.expander)
    go = button(at, "bulk_register_go")
    assert go.label == "Invite 1 patient"
    go.click().run()
    assert not at.exception, at.exception
    assert "1 registered." in [s.value for s in at.success]
    session = clinic.session
    session.expire_all()
    live = session.exec(select(Enrollment.patient_id).where(
        Enrollment.patient_id == clinic.rivera.id)).all()
    assert live == [clinic.rivera.id]
    assert session.exec(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "bulk_registration")).one() == 1
    session.commit()
    # The list shows Rivera as Invited now (caches cleared after the run).
    table = at.dataframe[0].value
    rivera = table[table["Patient"] == "Rivera, Sam"].iloc[0]
    assert rivera["Portal status"] == ["Invited"]
    button(at, "bulk_register_close").click().run()
    assert button(at, "bulk_register_open").label == "Register all"


def test_cancel_changes_nothing_and_supervisors_do_not_see_it(clinic):  # noqa: F811
    at = open_dashboard(clinic)
    button(at, "bulk_register_open").click().run()
    button(at, "bulk_register_cancel").click().run()
    assert button(at, "bulk_register_open")
    session = clinic.session
    assert session.exec(select(func.count()).select_from(Enrollment)).one() == 1
    session.commit()
    clinic.user = make_user(session, role=Role.supervisor, practices=[clinic.practice],
                            username="boss")
    session.commit()
    at = open_dashboard(clinic)
    assert not [b for b in at.button if b.key == "bulk_register_open"]


def test_the_confirmation_lists_an_opted_out_family_with_its_reason(clinic):  # noqa: F811
    from services.text_opt_out import add_opt_out
    from tests.factories import make_guardian

    session = clinic.session
    # Chen's guardian has no email, and their number replied STOP: opted out, not "no email".
    make_guardian(session, clinic.practice, patients=[clinic.chen], first_name="Wen",
                  last_name="Chen", email=None, cell_phone="+13125550166")
    add_opt_out(session, phone="+13125550166", actor="admin", source="reply")
    session.commit()
    at = open_dashboard(clinic)
    button(at, "bulk_register_open").click().run()
    assert not at.exception, at.exception
    label = next(e.label for e in at.expander if "will be skipped" in e.label)
    assert "Opted out of texts (STOP) and no guardian email on file: 1" in label
    assert "Chen, Lee: Opted out of texts (STOP)" in texts(at)
