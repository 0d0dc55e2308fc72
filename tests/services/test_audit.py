"""The audit trail: recording, filtering and paging in SQL, CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import pytest

from models import AuditEvent
from services.audit import (
    ACTION_LABELS,
    AuditFilter,
    action_label,
    export_audit_csv,
    list_audit_choices,
    list_audit_events,
    record_event,
)
from tests.factories import (
    make_appointment,
    make_guardian,
    make_patient,
    make_practice,
    make_provider,
    make_user,
)

ZONE = "America/Chicago"


def _event(session, practice, at: dt.datetime, *, actor="desk", action="pin_issued",
           patient=None, **detail) -> AuditEvent:
    event = record_event(session, actor=actor, action=action, practice_id=practice.id,
                         patient_id=patient.id if patient else None, **detail)
    event.at = at
    session.flush()
    return event


@pytest.fixture
def trail(session):
    """Events in one practice across two local days, and one in another practice."""
    practice = make_practice(session, timezone=ZONE)
    other = make_practice(session)
    sofia = make_patient(session, practice, mrn="M-100", first_name="Sofia", last_name="Rivera")
    theo = make_patient(session, practice, mrn="M-200", first_name="Theo", last_name="Okafor")
    # 23:30 in Chicago on 1 March is 05:30 UTC on 2 March: it belongs to 1 March locally.
    _event(session, practice, dt.datetime(2030, 3, 2, 5, 30, tzinfo=dt.UTC), patient=sofia,
           method="pin")
    _event(session, practice, dt.datetime(2030, 3, 2, 15, 0, tzinfo=dt.UTC), actor="Boss",
           action="enrollment_voided", patient=sofia)
    _event(session, practice, dt.datetime(2030, 3, 2, 16, 0, tzinfo=dt.UTC), patient=theo)
    _event(session, practice, dt.datetime(2030, 3, 2, 17, 0, tzinfo=dt.UTC), actor="boss",
           action="location_added", name="Annex")
    _event(session, other, dt.datetime(2030, 3, 2, 15, 0, tzinfo=dt.UTC), patient=None)
    return practice, sofia, theo


def _actions(page) -> list[str]:
    return list(page.events["Action"])


def test_events_are_listed_newest_first_within_the_practice(session, trail):
    practice, _, _ = trail
    page = list_audit_events(session, practice_id=practice.id, timezone=ZONE)
    assert page.total == 4
    assert list(page.events.columns) == ["When", "User", "Action", "Patient", "Details"]
    assert _actions(page) == ["Location added", "PIN issued", "Enrollment voided", "PIN issued"]
    assert page.events["When"].iloc[-1] == "03/01/2030 11:30:00 PM"  # shown in the practice zone
    assert page.events["Patient"].iloc[-1] == "Rivera, Sofia (MRN M-100)"
    assert page.events["Details"].iloc[0] == "Name: Annex"


def test_sign_ins_of_the_practices_staff_are_included(session, trail):
    practice, _, _ = trail
    make_user(session, practices=[practice], username="desk")
    make_user(session, practices=[make_practice(session)], username="elsewhere")
    for actor in ("desk", "elsewhere", "nobody"):
        record_event(session, actor=actor, action="login_failed", reason="wrong password")
    session.flush()
    page = list_audit_events(session, practice_id=practice.id, timezone=ZONE,
                             filters=AuditFilter(action="login_failed"))
    assert list(page.events["User"]) == ["desk"]
    assert "login_failed" in list_audit_choices(session, practice_id=practice.id).actions


def test_dates_are_the_practices_local_days(session, trail):
    practice, _, _ = trail
    first_day = list_audit_events(session, practice_id=practice.id, timezone=ZONE,
                                  filters=AuditFilter(start=dt.date(2030, 3, 1),
                                                      end=dt.date(2030, 3, 1)))
    assert first_day.total == 1
    second_day = list_audit_events(session, practice_id=practice.id, timezone=ZONE,
                                   filters=AuditFilter(start=dt.date(2030, 3, 2)))
    assert second_day.total == 3


def test_filter_by_user_ignores_case(session, trail):
    practice, _, _ = trail
    page = list_audit_events(session, practice_id=practice.id, timezone=ZONE,
                             filters=AuditFilter(user="BOSS"))
    assert _actions(page) == ["Location added", "Enrollment voided"]


@pytest.mark.parametrize(("patient", "expected"), [
    ("M-100", 2), ("M-200", 1), ("rivera", 2), ("Sof Riv", 2), ("theo", 1), ("okafor sofia", 0),
    ("M-1", 0), ("%", 0),
])
def test_filter_by_patient_mrn_or_name(session, trail, patient, expected):
    practice, _, _ = trail
    page = list_audit_events(session, practice_id=practice.id, timezone=ZONE,
                             filters=AuditFilter(patient=patient))
    assert page.total == expected


def test_filter_by_action(session, trail):
    practice, _, _ = trail
    page = list_audit_events(session, practice_id=practice.id, timezone=ZONE,
                             filters=AuditFilter(action="pin_issued"))
    assert page.total == 2 and set(_actions(page)) == {"PIN issued"}


def test_filters_combine(session, trail):
    practice, _, _ = trail
    page = list_audit_events(session, practice_id=practice.id, timezone=ZONE,
                             filters=AuditFilter(action="pin_issued", patient="rivera",
                                                 start=dt.date(2030, 3, 2)))
    assert page.total == 0


def test_pages_are_cut_in_sql(session, trail):
    practice, _, _ = trail
    first = list_audit_events(session, practice_id=practice.id, timezone=ZONE, page_size=3)
    second = list_audit_events(session, practice_id=practice.id, timezone=ZONE, page_size=3,
                               page=2)
    assert (first.pages, len(first.events), len(second.events)) == (2, 3, 1)
    assert second.page == 2 and _actions(second) == ["PIN issued"]
    beyond = list_audit_events(session, practice_id=practice.id, timezone=ZONE, page_size=3,
                               page=9)
    assert beyond.page == 2  # a page past the end shows the last one


def test_choices_list_the_practices_actions_and_users(session, trail):
    practice, _, _ = trail
    choices = list_audit_choices(session, practice_id=practice.id)
    assert choices.actions == ["enrollment_voided", "location_added", "pin_issued"]
    assert choices.users == ["Boss", "boss", "desk"]  # the same on every database collation


def test_choices_list_actions_in_the_order_of_their_words(session, trail):
    practice, _, _ = trail
    # "Added to practice" comes before "Enrollment voided", though its code sorts last.
    record_event(session, actor="boss", action="user_practice_added", practice_id=practice.id)
    session.flush()
    actions = list_audit_choices(session, practice_id=practice.id).actions
    assert actions == ["user_practice_added", "enrollment_voided", "location_added",
                       "pin_issued"]
    assert [action_label(action) for action in actions] == [
        "Added to practice", "Enrollment voided", "Location added", "PIN issued"]


def test_csv_export_holds_every_matching_event(session, trail):
    practice, _, _ = trail
    data = export_audit_csv(session, practice_id=practice.id, timezone=ZONE,
                            filters=AuditFilter(patient="M-100"))
    assert data.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert lines[0] == ["When (UTC)", f"When ({ZONE})", "User", "Action", "MRN", "Patient",
                        "Details"]
    assert [line[3] for line in lines[1:]] == ["enrollment_voided", "pin_issued"]
    oldest = lines[2]
    assert oldest[0] == "2030-03-02T05:30:00+00:00"
    assert oldest[1] == "2030-03-01T23:30:00-06:00"
    assert oldest[4:6] == ["M-100", "Rivera, Sofia"]
    assert json.loads(oldest[6]) == {"method": "pin"}


def test_csv_export_of_an_empty_selection_is_just_the_header(session, trail):
    practice, _, _ = trail
    data = export_audit_csv(session, practice_id=practice.id, timezone=ZONE,
                            filters=AuditFilter(user="nobody"))
    assert len(data.decode("utf-8-sig").strip().splitlines()) == 1


def test_every_action_the_code_records_has_words():
    # The Audit Log shows `action_label`; a new action without an entry would read as a
    # made-up sentence, so each literal action in the code must be in ACTION_LABELS.
    root = Path(__file__).resolve().parents[2]
    recorded = set()
    for path in root.glob("services/**/*.py"):  # only services record events
        source = path.read_text(encoding="utf-8")
        recorded |= set(re.findall(r'\baction="([a-z_]+)"', source))
        # Use cases that record several events name them in an `actions` list.
        for first, second in re.findall(
                r'actions\.append\("([a-z_]+)"(?: if \w+ else "([a-z_]+)")?\)', source):
            recorded |= {first, second} - {""}
    recorded |= {f"{table}_{verb}" for table in ("location", "provider")
                 for verb in ("added", "renamed")}  # built from the table's name
    recorded.add("user_enabled")  # the other half of `action="user_disabled" if disabled else`
    assert {"pin_issued", "holiday_added", "user_unlocked", "user_disabled"} <= recorded
    assert sorted(recorded - set(ACTION_LABELS)) == []


def test_an_action_without_words_yet_still_reads_as_a_sentence():
    assert action_label("pin_issued") == "PIN issued"
    assert action_label("reminder_sent") == "Reminder sent"



def test_the_audit_log_reads_in_words(session):
    practice = make_practice(session, name="Words Peds", timezone=ZONE)
    patient = make_patient(session, practice, first_name="Ava", last_name="Stone",
                           mrn="MRN0000479")
    at = dt.datetime(2030, 3, 2, 14, 5, tzinfo=dt.UTC)
    _event(session, practice, at, actor="parent", action="activation_attempt", patient=patient,
           client="ip:::ffff:203.0.113.9", outcome="wrong_secret", attempts=2)
    _event(session, practice, at, actor="ada", action="practice_updated",
           changes={"phone": ["", "(617) 555-0100"]})
    _event(session, practice, at, actor="ada", action="message_sent", channel="sms_gateway",
           message_ids=[4, 5])
    _event(session, practice, at, actor="ada", action="registration", patient=patient,
           method="question", text="sms_gateway")
    _event(session, practice, at, actor="system", action="reminder_sent", language="es")
    session.commit()
    page = list_audit_events(session, practice_id=practice.id, timezone=ZONE)
    shown = page.events.to_dict("records")
    assert {row["When"] for row in shown} == {"03/02/2030 8:05:00 AM"}
    attempt = next(row for row in shown if row["Action"] == "Activation attempt")
    assert attempt["Patient"] == "Stone, Ava (MRN0000479)"
    assert attempt["Details"] == "Wrong tries: 2 · From: 203.0.113.9 · Outcome: wrong secret"
    changed = next(row for row in shown if row["Action"] == "Practice settings changed")
    assert changed["Details"] == "Changed: phone from none to (617) 555-0100"
    sent = next(row for row in shown if row["Action"] == "Message sent")
    assert sent["Details"] == "Sent by: Text via carrier gateway"  # message ids left out
    registered = next(row for row in shown if row["Details"].startswith("Verified by"))
    assert registered["Details"] == ("Verified by: Verification question · "
                                     "Text message via: carrier gateway")
    reminded = next(row for row in shown if row["Action"] == "Reminder sent")
    assert reminded["Details"] == "Language: Español"
    for row in shown:
        assert not any(mark in row["Details"] for mark in ("{", "[", "ip:", "_")), row


def test_ids_in_the_details_read_as_the_visit_guardian_and_staff_user_or_are_left_out(session):
    practice = make_practice(session, timezone=ZONE)
    patient = make_patient(session, practice, first_name="Ava", last_name="Stone")
    provider = make_provider(session, practice, name="Dr. Ada Lee")
    visit = make_appointment(session, practice, patient=patient, provider=provider,
                             start_at=dt.datetime(2030, 3, 2, 15, 30, tzinfo=dt.UTC))
    guardian = make_guardian(session, practice, first_name="Maria", last_name="Stone",
                             patients=[patient])
    staff = make_user(session, practices=[practice], username="desk1", name="Dana Desk")
    at = dt.datetime(2030, 3, 2, 16, 0, tzinfo=dt.UTC)
    _event(session, practice, at, action="appointment_arrived", patient=patient,
           appointment_id=visit.id)
    _event(session, practice, at, action="registration", patient=patient, enrollment_id=41,
           appointment_id=None, guardian_id=guardian.id, method="pin", batch_id="9f3a1c")
    _event(session, practice, at, action="assent_recorded", patient=patient,
           enrollment_id=41, staff_user_id=staff.id)
    _event(session, practice, at, action="pin_issued", patient=patient, enrollment_id=41,
           appointment_id=visit.id + 1000)  # a visit no longer on file
    session.commit()

    details = {row["Action"]: row["Details"] for row in list_audit_events(
        session, practice_id=practice.id, timezone=ZONE).events.to_dict("records")}

    assert details["Marked arrived"] == "Visit: 03/02/2030 9:30 AM with Dr. Ada Lee"
    assert details["Registered"] == "Guardian: Maria Stone · Verified by: PIN"
    assert details["Patient's agreement to their own account recorded"] == (
        "Staff user: Dana Desk (desk1)")
    assert details["PIN issued"] == ""
    for shown in details.values():
        assert not re.search(r"\bid\b|Invitation|41|9f3a1c", shown), shown


def test_the_csv_keeps_the_ids_as_recorded(session, trail):
    practice, sofia, _ = trail
    _event(session, practice, dt.datetime(2030, 3, 2, 18, 0, tzinfo=dt.UTC), patient=sofia,
           enrollment_id=41, appointment_id=7)
    session.commit()
    lines = list(csv.reader(io.StringIO(
        export_audit_csv(session, practice_id=practice.id, timezone=ZONE).decode("utf-8-sig"))))
    assert json.loads(lines[1][6]) == {"appointment_id": 7, "enrollment_id": 41}
