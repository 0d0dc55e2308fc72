"""The Dashboard's list in AppTest: the front desk's columns first (the rest behind More
columns), a selected row's detail, and Register in the same tab with the appointment and the
practice; Register Patient's Back to Dashboard keeps the Dashboard's filters."""

from __future__ import annotations

import json

from tests.pages.helpers import texts
from tests.pages.test_dashboard import (  # noqa: F401
    Clinic,
    clinic,
    open_dashboard,
    rows,
)

FRONT_DESK = ["Time", "Patient", "Register", "Portal status", "Age", "Guardian contact",
              "Provider", "Access due"]


def column_order(at) -> list[str]:
    return list(at.dataframe[0].proto.column_order)


def select_row(at, position: int):
    """Select a row as a click on its box does: the grid's selection state, then a rerun."""
    key = at.dataframe[0].proto.id.split("-", 2)[2]
    at.session_state[key] = {"selection": {"rows": [position], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    return at


def page_links(at) -> list:
    return [element.proto for element in at.get("page_link")]


def test_the_list_shows_the_front_desk_columns_until_more_columns(clinic):  # noqa: F811
    at = open_dashboard(clinic)
    assert column_order(at) == FRONT_DESK
    assert at.toggle(key="dashboard_more_columns").value is False
    at.toggle(key="dashboard_more_columns").set_value(True).run()
    assert column_order(at)[:len(FRONT_DESK)] == FRONT_DESK
    assert {"Location", "Visit status", "Access due by", "MRN"} <= set(column_order(at))
    assert "Appointment" not in column_order(at)  # the id rides along, never shown
    config = json.loads(at.dataframe[0].proto.columns)
    assert config["Register"]["type_config"]["type"] == "text"  # no link opening a new tab
    assert at.dataframe[0].proto.selection_mode  # rows can be selected


def test_a_selected_row_shows_its_detail_and_registers_in_the_same_tab(clinic):  # noqa: F811
    at = open_dashboard(clinic)
    assert list(rows(at)["Register"]) == ["Register", "Register", ""]
    assert "Select a row" in texts(at)
    assert not [link for link in page_links(at) if link.label.startswith("Register ")]
    select_row(at, 0)
    shown = texts(at).replace("\\", "")  # Markdown escapes, as plain() writes them
    assert "**Rivera, Sam** (MRN-1001) · born" in shown
    assert " 9:00 AM · Dr. Avery" in shown
    assert "Main Street" in shown and "Dr. Avery" in shown
    assert "Maria Rivera (Mother) · maria@example.org" in shown
    [link] = [link for link in page_links(at) if link.label == "Register Rivera, Sam"]
    # Same tab: a page link of the app (not an external URL), with the appointment and practice.
    assert link.page.endswith("register")
    assert not link.external
    assert link.query_string == (f"appointment={clinic.today_main.id}"
                                 f"&practice={clinic.practice.id}")


def test_an_active_row_offers_no_register(clinic):  # noqa: F811
    at = select_row(open_dashboard(clinic), 2)
    assert "**Ortiz, Ana**" in texts(at)
    assert "already has portal access" in texts(at)
    assert not [link for link in page_links(at) if link.label.startswith("Register ")]


def test_back_to_dashboard_carries_the_dashboards_filters(clinic):  # noqa: F811
    at = open_dashboard(clinic, location=str(clinic.north.id), due="overdue")
    assert at.query_params["due"] == "overdue"
    at.query_params.clear()
    at.query_params["appointment"] = str(clinic.today_north.id)
    at.switch_page("pages/register.py").run()
    assert not at.exception, at.exception
    [back] = [link for link in page_links(at) if link.label == "Back to Dashboard"]
    assert f"location={clinic.north.id}" in back.query_string
    assert "due=overdue" in back.query_string
