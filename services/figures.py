"""The Enrollment page's charts: pure builders from the DataFrames of services.enrollment's report
to plotly Figures, and the one way a rate is written on that page (percent).

Colours come from the Dashboard's badge palette (services.status.STATUS_COLORS), so "Invited"
is the same blue and "Active" the same green everywhere. Sized for a laptop screen.

Each figure is built in one constructor call from plain dicts: plotly validates a figure once
that way, where update_layout/update_xaxes/add_vline validate again on every call (five times
slower, and the page rebuilds its figures on every rerun).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from services.enrollment import ACCESS_BUSINESS_DAYS, DAYS_TO_ACTIVATION_CAP
from services.status import STATUS_COLORS, PortalStatus

SEEN_COLOR = "#546e7a"  # neutral slate: seen is not a portal status
INVITED_COLOR = STATUS_COLORS[PortalStatus.invited]
ACTIVE_COLOR = STATUS_COLORS[PortalStatus.active]
PRACTICE_LINE_COLOR = STATUS_COLORS[PortalStatus.pin_expired]
GRID_COLOR = "#eeeeee"
HEIGHT = 380
TIMELY_LABEL = "Access in time"  # the measure: within ACCESS_BUSINESS_DAYS business days


def _axis(title: str, **extra: Any) -> dict[str, Any]:
    return {"title": {"text": title}, "gridcolor": GRID_COLOR, "zeroline": False,
            "automargin": True, **extra}


def _layout(*, title: str, xaxis: dict, yaxis: dict, height: int = HEIGHT,
            **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title, "x": 0, "xanchor": "left", "yref": "container", "y": 0.98,
                  "yanchor": "top", "font": {"size": 18}},
        "height": height,
        # The legend gets its own row between the title and the plot, so that neither covers
        # the other on a half-width chart.
        "margin": {"l": 10, "r": 10, "t": 90, "b": 10},
        "font": {"size": 14},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left",
                   "x": 0},
        "plot_bgcolor": "white",
        "hoverlabel": {"font": {"size": 14}},
        "xaxis": xaxis,
        "yaxis": yaxis,
        **extra,
    }


def percent(value: float | None) -> str:
    """A rate as a whole percentage, "–" when there is none (no patients, or NaN)."""
    return "–" if value is None or pd.isna(value) else f"{value:.0%}"


def _numbers(series: pd.Series) -> list:
    """Plain Python numbers, None for missing ones (plotly leaves a gap)."""
    return [None if value is None or pd.isna(value) else value for value in series.tolist()]


def funnel_figure(funnel: pd.DataFrame) -> go.Figure:
    """Seen → Invited → Activated, with each stage's share of the patients seen."""
    colors = {"Seen": SEEN_COLOR, "Invited": INVITED_COLOR, "Activated": ACTIVE_COLOR}
    stages = funnel["stage"].tolist()
    return go.Figure(
        data=[{
            "type": "funnel",
            "y": stages,
            "x": funnel["patients"].tolist(),
            "textinfo": "value+percent initial",
            "marker": {"color": [colors.get(stage, SEEN_COLOR) for stage in stages]},
            "connector": {"line": {"color": "#bdbdbd"}},
            "hovertemplate": "%{y}: %{x:,} patients (%{percentInitial:.0%} of seen)"
                             "<extra></extra>",
        }],
        layout=_layout(title="Patients seen → invited → activated",
                       xaxis=_axis("Patients"), yaxis=_axis("Stage")),
    )


def _week_label(week: dt.date) -> str:
    return f"{week:%b} {week.day}"


def weekly_trend_figure(weekly: pd.DataFrame) -> go.Figure:
    """Invitations issued each week, how many of them were activated, and the rate."""
    weeks = [_week_label(week) for week in weekly["week_start"]]
    return go.Figure(
        data=[
            {"type": "bar", "x": weeks, "y": weekly["invitations"].tolist(),
             "name": "Invitations", "marker": {"color": INVITED_COLOR},
             "hovertemplate": "Week of %{x}: %{y:,} invitations<extra></extra>"},
            {"type": "bar", "x": weeks, "y": weekly["activated"].tolist(),
             "name": "Activated", "marker": {"color": ACTIVE_COLOR},
             "hovertemplate": "Week of %{x}: %{y:,} of them activated<extra></extra>"},
            {"type": "scatter", "x": weeks, "y": _numbers(weekly["rate"]),
             "name": "Activation rate", "yaxis": "y2", "mode": "lines+markers",
             "line": {"color": "#212121", "width": 2}, "marker": {"size": 7},
             "connectgaps": False,
             "hovertemplate": "Week of %{x}: %{y:.0%} activated<extra></extra>"},
        ],
        layout=_layout(
            title="Invitations and activations by week",
            xaxis=_axis("Week (Monday) the PIN was issued", type="category"),
            yaxis=_axis("Invitations", rangemode="tozero"),
            yaxis2={"title": {"text": "Activation rate"}, "overlaying": "y", "side": "right",
                    "range": [0, 1.05], "tickmode": "array",
                    "tickvals": [0, 0.25, 0.5, 0.75, 1], "tickformat": ".0%",
                    "showgrid": False},
            barmode="group",
        ),
    )


def rate_by_figure(rates: pd.DataFrame, *, group_label: str,
                   overall_rate: float | None = None) -> go.Figure:
    """Each provider's (or location's) timely-access and activation rates, laggards on top."""
    names = rates["name"].tolist()
    timely_text = [f"{percent(rate)} ({timely:,}/{seen:,})" for rate, timely, seen in
                   zip(rates["timely_rate"], rates["timely"], rates["seen"], strict=True)]
    activated_text = [f"{percent(rate)} ({activated:,}/{seen:,})" for rate, activated, seen in
                      zip(rates["activated_rate"], rates["activated"], rates["seen"],
                          strict=True)]
    extra: dict[str, Any] = {}
    if overall_rate is not None:
        # The practice's own rate as a dashed line (named in the legend): bars that end left
        # of it are the laggards.
        extra["shapes"] = [{
            "type": "line", "xref": "x", "yref": "paper", "x0": overall_rate,
            "x1": overall_rate, "y0": 0, "y1": 1, "showlegend": True,
            "name": f"Practice {percent(overall_rate)}",
            "line": {"color": PRACTICE_LINE_COLOR, "dash": "dash", "width": 2},
        }]
    return go.Figure(
        data=[
            {"type": "bar", "orientation": "h", "y": names, "x": _numbers(rates["timely_rate"]),
             "name": TIMELY_LABEL, "marker": {"color": INVITED_COLOR}, "text": timely_text,
             "textposition": "outside", "cliponaxis": False,
             "hovertemplate": "%{y}: %{text} of patients seen given access within "
                              f"{ACCESS_BUSINESS_DAYS} business days<extra></extra>"},
            {"type": "bar", "orientation": "h", "y": names,
             "x": _numbers(rates["activated_rate"]), "name": "Activated",
             "marker": {"color": ACTIVE_COLOR}, "text": activated_text,
             "textposition": "outside", "cliponaxis": False,
             "hovertemplate": "%{y}: %{text} of patients seen activated<extra></extra>"},
        ],
        layout=_layout(
            title=f"Timely access by {group_label.lower()} (lowest first)",
            xaxis=_axis("Share of patients seen", tickformat=".0%", range=[0, 1.12],
                        tickvals=[0, 0.25, 0.5, 0.75, 1]),
            # Laggards come first in the data; plotly would draw the first one at the bottom.
            yaxis=_axis(group_label, autorange="reversed", type="category"),
            height=max(HEIGHT, 130 + 64 * len(names)),
            barmode="group",
            **extra,
        ),
    )


def days_to_activation_figure(days: pd.DataFrame) -> go.Figure:
    """How many whole days parents took from a PIN's issue to activating it."""
    labels = [f"{d}+" if d >= DAYS_TO_ACTIVATION_CAP else str(d) for d in days["days"]]
    return go.Figure(
        data=[{"type": "bar", "x": labels, "y": days["enrollments"].tolist(),
               "name": "Activations", "marker": {"color": ACTIVE_COLOR},
               "hovertemplate": "%{x} days: %{y:,} activations<extra></extra>"}],
        layout=_layout(
            title="Days from invitation to activation",
            xaxis=_axis("Whole days from PIN issued to account activated", type="category"),
            yaxis=_axis("Activations", rangemode="tozero"),
        ),
    )
