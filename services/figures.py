"""The Enrollment page's charts: pure builders from the metrics' DataFrames to plotly Figures.

Colours come from the Dashboard's badge palette (services.status.STATUS_COLORS), so "Invited"
is the same blue and "Active" the same green everywhere. Sized for a laptop screen.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import plotly.graph_objects as go

from services.metrics import ACCESS_BUSINESS_DAYS, DAYS_TO_ACTIVATION_CAP
from services.status import STATUS_COLORS, PortalStatus

SEEN_COLOR = "#546e7a"  # neutral slate: seen is not a portal status
INVITED_COLOR = STATUS_COLORS[PortalStatus.invited]
ACTIVE_COLOR = STATUS_COLORS[PortalStatus.active]
MISSED_COLOR = STATUS_COLORS[PortalStatus.pin_expired]
HEIGHT = 380
TIMELY_LABEL = f"Access within {ACCESS_BUSINESS_DAYS} business days"


def _layout(figure: go.Figure, *, title: str, height: int = HEIGHT) -> go.Figure:
    figure.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 18}},
        height=height,
        margin={"l": 10, "r": 10, "t": 60, "b": 10},
        font={"size": 14},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        plot_bgcolor="white",
        hoverlabel={"font_size": 14},
    )
    figure.update_xaxes(gridcolor="#eeeeee", zeroline=False, automargin=True)
    figure.update_yaxes(gridcolor="#eeeeee", zeroline=False, automargin=True)
    return figure


def _percent(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.0%}"


def funnel_figure(funnel: pd.DataFrame) -> go.Figure:
    """Seen → Invited → Activated, with each stage's share of the patients seen."""
    colors = {"Seen": SEEN_COLOR, "Invited": INVITED_COLOR, "Activated": ACTIVE_COLOR}
    figure = go.Figure(go.Funnel(
        y=funnel["stage"].tolist(),
        x=funnel["patients"].tolist(),
        textinfo="value+percent initial",
        marker={"color": [colors.get(stage, SEEN_COLOR) for stage in funnel["stage"]]},
        connector={"line": {"color": "#bdbdbd"}},
        hovertemplate="%{y}: %{x:,} patients (%{percentInitial:.0%} of seen)<extra></extra>",
    ))
    _layout(figure, title="Patients seen → invited → activated")
    figure.update_yaxes(title_text="Stage")
    figure.update_xaxes(title_text="Patients")
    return figure


def weekly_trend_figure(weekly: pd.DataFrame) -> go.Figure:
    """Invitations issued each week, how many of them were activated, and the rate."""
    weeks = [_week_label(week) for week in weekly["week_start"]]
    rate = [None if value is None or pd.isna(value) else float(value) for value in weekly["rate"]]
    figure = go.Figure()
    figure.add_trace(go.Bar(
        x=weeks, y=weekly["invitations"].tolist(), name="Invitations", marker_color=INVITED_COLOR,
        hovertemplate="%{x}: %{y:,} invitations<extra></extra>",
    ))
    figure.add_trace(go.Bar(
        x=weeks, y=weekly["activated"].tolist(), name="Activated", marker_color=ACTIVE_COLOR,
        hovertemplate="%{x}: %{y:,} activated<extra></extra>",
    ))
    figure.add_trace(go.Scatter(
        x=weeks, y=rate, name="Activation rate", yaxis="y2", mode="lines+markers",
        line={"color": "#212121", "width": 2}, marker={"size": 7}, connectgaps=False,
        hovertemplate="%{x}: %{y:.0%} activated<extra></extra>",
    ))
    _layout(figure, title="Invitations and activations by week")
    figure.update_layout(
        barmode="group",
        xaxis={"title": {"text": "Week (Monday) the PIN was issued"}, "type": "category"},
        yaxis={"title": {"text": "Invitations"}, "rangemode": "tozero"},
        yaxis2={"title": {"text": "Activation rate"}, "overlaying": "y", "side": "right",
                "range": [0, 1.05], "tickformat": ".0%", "showgrid": False},
    )
    return figure


def _week_label(week: dt.date) -> str:
    return f"{week:%b} {week.day}"


def rate_by_figure(rates: pd.DataFrame, *, group_label: str,
                   overall_rate: float | None = None) -> go.Figure:
    """Each provider's (or location's) timely-access and activation rates, laggards on top."""
    names = rates["name"].tolist()
    figure = go.Figure()
    figure.add_trace(go.Bar(
        y=names, x=rates["timely_rate"].tolist(), orientation="h", name=TIMELY_LABEL,
        marker_color=INVITED_COLOR,
        text=[f"{_percent(rate)} ({timely:,}/{seen:,})" for rate, timely, seen in
              zip(rates["timely_rate"], rates["timely"], rates["seen"], strict=True)],
        textposition="auto",
        hovertemplate="%{y}: %{text} of patients seen given access in time<extra></extra>",
    ))
    figure.add_trace(go.Bar(
        y=names, x=rates["activated_rate"].tolist(), orientation="h", name="Activated",
        marker_color=ACTIVE_COLOR,
        text=[f"{_percent(rate)} ({activated:,}/{seen:,})" for rate, activated, seen in
              zip(rates["activated_rate"], rates["activated"], rates["seen"], strict=True)],
        textposition="auto",
        hovertemplate="%{y}: %{text} of patients seen activated<extra></extra>",
    ))
    if overall_rate is not None:
        figure.add_vline(x=overall_rate, line={"color": MISSED_COLOR, "dash": "dash", "width": 2},
                         annotation_text=f"Practice {_percent(overall_rate)}",
                         annotation_position="top")
    height = max(HEIGHT, 120 + 56 * len(names))
    _layout(figure, title=f"Timely access by {group_label.lower()} (lowest first)", height=height)
    figure.update_layout(barmode="group")
    figure.update_xaxes(title_text="Share of patients seen", tickformat=".0%", range=[0, 1.05])
    # Laggards first in the data; plotly draws the first category at the bottom otherwise.
    figure.update_yaxes(title_text=group_label, autorange="reversed", type="category")
    return figure


def days_to_activation_figure(days: pd.DataFrame) -> go.Figure:
    """How many whole days parents took from a PIN's issue to activating it."""
    labels = [f"{d}+" if d >= DAYS_TO_ACTIVATION_CAP else str(d) for d in days["days"]]
    figure = go.Figure(go.Bar(
        x=labels, y=days["enrollments"].tolist(), marker_color=ACTIVE_COLOR,
        name="Activations",
        hovertemplate="%{x} days: %{y:,} activations<extra></extra>",
    ))
    _layout(figure, title="Days from invitation to activation")
    figure.update_xaxes(title_text="Whole days from PIN issued to account activated",
                        type="category")
    figure.update_yaxes(title_text="Activations", rangemode="tozero")
    return figure
