"""The Dashboard's list as Arrow: what each column holds, in the practice's timezone, and the
row detail read back from it."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pyarrow as pa

from services.access_deadline import AccessMark
from services.schedule import SchedulePage, ScheduleRow
from services.status import PortalStatus
from ui.schedule_table import APPOINTMENT, REGISTER_TEXT, _detail_lines, schedule_table

ZONE = zoneinfo.ZoneInfo("America/Chicago")


def _row(appointment_id: int, **fields) -> ScheduleRow:
    values = dict(
        appointment_id=appointment_id, starts_at=dt.datetime(2026, 3, 8, 9, 30, tzinfo=ZONE),
        appointment_status="no_show", visit_type="Well Child", patient_id=appointment_id,
        mrn=f"MRN{appointment_id}", first_name="Sam", last_name="Rivera",
        date_of_birth=dt.date(2019, 2, 1), age="7 y", guardian_name="Ana Rivera",
        guardian_relationship="Mother", guardian_email="ana@example.org",
        guardian_cell_phone="+13125550100", provider="Dr. Avery", location="Main Street",
        portal_status=PortalStatus.invited)
    values.update(fields)
    return ScheduleRow(**values)


def test_the_table_holds_what_the_list_shows():
    page = SchedulePage(rows=[
        _row(1, access=AccessMark(due_by=dt.date(2026, 3, 12), given=False, label="Overdue"),
             delivery_failure="Mailbox full"),
        # After the clocks changed: still the practice's zone, one hour later in UTC.
        _row(2, starts_at=dt.datetime(2026, 3, 9, 9, 30, tzinfo=ZONE),
             portal_status=PortalStatus.active, guardian_name=None, guardian_email=None,
             guardian_cell_phone=None),
    ], page=1, page_size=100)
    table = schedule_table(page)
    assert table.schema.field("Time").type == pa.timestamp("ns", tz="America/Chicago")
    first, second = table.to_pylist()
    assert first["Time"] == dt.datetime(2026, 3, 8, 9, 30, tzinfo=ZONE)
    assert second["Time"] == dt.datetime(2026, 3, 9, 9, 30, tzinfo=ZONE)
    assert (first["Register"], second["Register"]) == (REGISTER_TEXT, "")
    assert first["Portal status"] == ["Invited", "Delivery failed"]
    assert second["Portal status"] == ["Active"]
    assert first["Guardian contact"] == "ana@example.org · (312) 555-0100"
    assert (second["Guardian contact"], second["Guardian"]) == ("", "")
    assert first["Guardian"] == "Ana Rivera (Mother)"
    assert (first["Access due"], first["Access due by"]) == ("Overdue", dt.date(2026, 3, 12))
    assert (second["Access due"], second["Access due by"]) == ("", None)
    assert first["Visit status"] == "No show"
    assert first["Date of birth"] == dt.date(2019, 2, 1)
    assert [row[APPOINTMENT] for row in (first, second)] == [1, 2]


def test_the_row_detail_reads_its_row_from_the_table():
    page = SchedulePage(rows=[_row(
        5, access=AccessMark(due_by=dt.date(2026, 3, 12), given=False, label="Overdue"))],
        page=1, page_size=100)
    row = schedule_table(page).slice(0, 1).to_pylist()[0]
    lines = _detail_lines(row)
    assert lines[0] == "**Rivera, Sam** (MRN5) · born 02/01/2019 (age 7 y)"
    assert lines[1].startswith("Sun 03/08 9:30 AM · Dr\\. Avery")
    assert lines[-1] == "Portal access: Overdue (due by Thu 03/12/2026)"


def test_an_empty_page_is_an_empty_table():
    table = schedule_table(SchedulePage(rows=[], page=1, page_size=100))
    assert table.num_rows == 0 and "Register" in table.column_names
