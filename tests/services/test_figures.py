"""Each chart builder on small data: trace types, titles, axis labels, values, colours."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import pandas as pd
import plotly.graph_objects as go

from services import figures
from services.status import STATUS_COLORS


def test_figures_and_enrollment_do_not_import_streamlit():
    probe = ("import sys, services.figures, services.enrollment; "
             "print('streamlit' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=figures.__file__.rsplit("/services/", 1)[0])
    assert result.stdout.strip() == "False"


def test_percent_writes_a_rate_as_a_whole_percentage_and_a_dash_for_none():
    assert figures.percent(0.604) == "60%"
    assert figures.percent(1.0) == "100%"
    assert figures.percent(0.0) == "0%"
    assert figures.percent(None) == "–"
    assert figures.percent(float("nan")) == "–"


def test_funnel_shows_the_three_stages_in_order_with_badge_colours():
    funnel = pd.DataFrame({"stage": ["Seen", "Invited", "Activated"], "patients": [10, 7, 4]})
    figure = figures.funnel_figure(funnel)
    assert isinstance(figure, go.Figure)
    (trace,) = figure.data
    assert trace.type == "funnel"
    assert list(trace.y) == ["Seen", "Invited", "Activated"]
    assert list(trace.x) == [10, 7, 4]
    assert list(trace.marker.color)[1:] == [STATUS_COLORS["Invited"], STATUS_COLORS["Active"]]
    assert "invited" in figure.layout.title.text
    assert figure.layout.xaxis.title.text == "Patients"


def test_weekly_trend_has_two_bar_series_and_a_rate_line_on_a_percent_axis():
    weekly = pd.DataFrame({
        "week_start": [dt.date(2024, 10, 28), dt.date(2024, 11, 4)],
        "invitations": [0, 4],
        "activated": [0, 1],
        "rate": [None, 0.25],
    })
    figure = figures.weekly_trend_figure(weekly)
    kinds = [(trace.type, trace.name) for trace in figure.data]
    assert kinds == [("bar", "Invitations"), ("bar", "Activated"), ("scatter", "Activation rate")]
    invitations, activated, rate = figure.data
    assert list(invitations.x) == ["Oct 28", "Nov 4"]
    assert list(invitations.y) == [0, 4] and list(activated.y) == [0, 1]
    assert list(rate.y) == [None, 0.25] and rate.yaxis == "y2"
    assert invitations.marker.color == STATUS_COLORS["Invited"]
    assert activated.marker.color == STATUS_COLORS["Active"]
    assert figure.layout.title.text == "Invitations and activations by week"
    assert figure.layout.yaxis.title.text == "Invitations"
    assert figure.layout.yaxis2.tickformat == ".0%"
    assert "Week" in figure.layout.xaxis.title.text


def _rates() -> pd.DataFrame:
    return pd.DataFrame({
        "name": ["Dr. Avery", "Dr. Brooks"],
        "seen": [5, 7],
        "timely": [3, 5],
        "timely_rate": [0.6, 5 / 7],
        "invited": [5, 4],
        "activated": [1, 4],
        "activated_rate": [0.2, 4 / 7],
    })


def test_rate_by_provider_keeps_laggards_on_top_and_labels_counts():
    figure = figures.rate_by_figure(_rates(), group_label="Provider", overall_rate=0.6)
    timely, activated = figure.data
    assert (timely.type, timely.orientation) == ("bar", "h")
    assert list(timely.y) == ["Dr. Avery", "Dr. Brooks"]
    assert list(timely.x) == [0.6, 5 / 7]
    assert list(timely.text) == ["60% (3/5)", "71% (5/7)"]
    assert list(activated.x) == [0.2, 4 / 7]
    assert figure.layout.yaxis.autorange == "reversed"
    assert figure.layout.title.text == "Timely access by provider (lowest first)"
    assert figure.layout.yaxis.title.text == "Provider"
    assert figure.layout.xaxis.tickformat == ".0%"
    assert [(shape.x0, shape.name) for shape in figure.layout.shapes] == [(0.6, "Practice 60%")]


def test_rate_by_location_without_an_overall_line():
    figure = figures.rate_by_figure(_rates(), group_label="Location")
    assert figure.layout.title.text == "Timely access by location (lowest first)"
    assert not figure.layout.shapes


def test_days_to_activation_labels_the_last_bar_as_and_more():
    cap = figures.DAYS_TO_ACTIVATION_CAP
    days = pd.DataFrame({"days": [0, 1, cap], "enrollments": [3, 0, 2]})
    figure = figures.days_to_activation_figure(days)
    (trace,) = figure.data
    assert trace.type == "bar"
    assert list(trace.x) == ["0", "1", f"{cap}+"]
    assert list(trace.y) == [3, 0, 2]
    assert trace.marker.color == STATUS_COLORS["Active"]
    assert figure.layout.title.text == "Days from invitation to activation"
    assert figure.layout.yaxis.title.text == "Activations"


def test_empty_frames_give_empty_but_valid_figures():
    empty_rates = _rates().iloc[0:0]
    assert len(figures.rate_by_figure(empty_rates, group_label="Provider").data[0].y) == 0
    empty_days = pd.DataFrame({"days": [], "enrollments": []})
    assert len(figures.days_to_activation_figure(empty_days).data[0].x) == 0
    figure = figures.weekly_trend_figure(pd.DataFrame(
        {"week_start": [dt.date(2024, 1, 1)], "invitations": [0], "activated": [0],
         "rate": [None]}))
    assert list(figure.data[2].y) == [None]
