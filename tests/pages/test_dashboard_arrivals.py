"""The Dashboard's arrivals panel in AppTest: one click marks a family Arrived (audited) and puts
them, not registered, at the top with a Register prompt."""

from __future__ import annotations

from sqlmodel import select

from models import Appointment, AppointmentStatus, AuditEvent
from tests.pages.helpers import texts
from tests.pages.test_dashboard import Clinic, clinic, open_dashboard  # noqa: F401


def test_one_click_arrival_prompts_to_register(clinic):  # noqa: F811
    at = open_dashboard(clinic)
    pills = at.button_group(key="_arrivals_pick")
    assert "9:00 AM Rivera, Sam" in list(pills.options)
    assert "arrived and not registered" not in texts(at)
    pills.set_value(clinic.today_main.id).run()
    assert not at.exception, at.exception
    session = clinic.session
    session.expire_all()
    assert session.get(Appointment, clinic.today_main.id).status == AppointmentStatus.arrived
    assert session.exec(select(AuditEvent.patient_id).where(
        AuditEvent.action == "appointment_arrived")).all() == [clinic.rivera.id]
    session.commit()
    shown = texts(at)
    assert "**1 arrived and not registered**" in shown
    assert f"register?appointment={clinic.today_main.id}" in shown
    table = at.dataframe[0].value
    assert table[table["Patient"] == "Rivera, Sam"].iloc[0]["Visit status"] == "Arrived"
