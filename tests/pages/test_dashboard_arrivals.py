"""The Dashboard's arrivals panel in AppTest: one click marks a family Arrived (audited) and puts
them, not registered, at the top with a Register prompt."""

from __future__ import annotations

import datetime as dt

from sqlmodel import select

from models import Appointment, AppointmentStatus, AuditEvent
from tests.factories import make_patient
from tests.pages.helpers import texts
from tests.pages.test_dashboard import (  # noqa: F401
    Clinic,
    clinic,
    local,
    open_dashboard,
    today,
)


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
    [link] = [e.proto for e in at.get("page_link") if e.proto.label == "Register Rivera, Sam"]
    assert link.query_string == (f"appointment={clinic.today_main.id}"
                                 f"&practice={clinic.practice.id}")
    table = at.dataframe[0].value
    assert table[table["Patient"] == "Rivera, Sam"].iloc[0]["Visit status"] == "Arrived"



def test_birthdays_ahead_on_the_dashboard(clinic):  # noqa: F811
    session = clinic.session
    day = today()
    birthday = day + dt.timedelta(days=5 if (day + dt.timedelta(days=5)).day != 29 else 6)
    turning = make_patient(session, clinic.practice, first_name="Teen", last_name="Soon",
                           date_of_birth=birthday.replace(year=birthday.year - 12))
    clinic.visit(turning, local(day + dt.timedelta(days=20), 9), clinic.main, clinic.dr_a)
    session.commit()
    at = open_dashboard(clinic)
    [expander] = [e for e in at.expander if e.label.startswith("Birthdays ahead (1)")]
    assert "Soon, Teen" in list(expander.dataframe[0].value["Patient"])
