"""The schedule filters in the sidebar (Start Date, End Date, Location, Select Provider(s),
search, cancelled), shared by the Dashboard and the Enrollment page and mirrored in the URL's
query string so that a filtered view can be bookmarked and shared.

    filters = schedule_filters(context)            # the Dashboard: every field
    filters = schedule_filters(context, search=False, cancelled=False, default_days=30)
    if not filters.valid:
        st.warning(filters.error)
        st.stop()
    ... filters.start, filters.end, filters.location_id, filters.provider_ids (None: all) ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace

import streamlit as st

from models.public import NamedRow
from services.dates import date_text, practice_today
from services.db import session_scope
from services.errors import quoted
from services.practices import list_locations, list_providers
from services.schedule import MAX_SEARCH_LENGTH, ScheduleCriteria
from ui.context import PageContext
from ui.text import plain

# Query-string names; a page that opts out of a field neither reads nor writes its name.
START, END, LOCATION, PROVIDERS, SEARCH, CANCELLED = (
    "start", "end", "location", "providers", "q", "cancelled"
)
EARLIEST = dt.date(2000, 1, 1)
YEARS_AHEAD = 10
ALL_LOCATIONS = "All locations"
_ANY_LOCATION = 0  # the drop-down's "All locations" (a None option would read as "no choice")
CHOICES_TTL_SECONDS = 60
# Which filters' provider chooser is open: it stays open across full reruns until Apply
# or until the user dismisses it.
CHOOSER_OPEN = "_filters_chooser_open"


@dataclass(frozen=True)
class ScheduleFilters:
    """The filters as chosen: days in the practice's timezone, inclusive; None means all."""

    start: dt.date
    end: dt.date
    location_id: int | None = None
    provider_ids: tuple[int, ...] | None = None
    search: str = ""
    include_cancelled: bool = False
    notices: tuple[str, ...] = ()  # query-string values that were refused

    @property
    def error(self) -> str | None:
        """Why the filters cannot be used as they are (None when they can)."""
        if self.end < self.start:
            return (
                f"End Date ({date_text(self.end)}) is before Start Date ({date_text(self.start)}): "
                "choose an End Date on or after the Start Date."
            )
        return None

    @property
    def valid(self) -> bool:
        return self.error is None

    @property
    def days(self) -> int:
        """How many days the range spans."""
        return (self.end - self.start).days + 1

    @property
    def criteria(self) -> ScheduleCriteria:
        """The filters as services.schedule takes them."""
        return ScheduleCriteria(
            start=self.start, end=self.end, location_id=self.location_id,
            provider_ids=self.provider_ids, search=self.search,
            include_cancelled=self.include_cancelled,
        )


@st.cache_data(ttl=CHOICES_TTL_SECONDS, show_spinner=False)
def load_choices(practice_id: int) -> tuple[list[NamedRow], list[NamedRow]]:
    """The practice's locations and providers, for the drop-down and the chooser."""
    with session_scope(read_only=True) as session:
        return (list_locations(session, practice_id=practice_id),
                list_providers(session, practice_id=practice_id))


def _parse_date(raw: str, label: str, fallback: dt.date, latest: dt.date,
                notices: list[str]) -> dt.date:
    try:
        value = dt.date.fromisoformat(raw.strip())
    except ValueError:
        notices.append(f"{label} {quoted(raw)} in the link is not a date (YYYY-MM-DD); "
                       f"showing {date_text(fallback)} instead.")
        return fallback
    if not EARLIEST <= value <= latest:
        notices.append(f"{label} {date_text(value)} in the link is out of range "
                       f"({date_text(EARLIEST)} to {date_text(latest)}); "
                       f"showing {date_text(fallback)} instead.")
        return fallback
    return value


def _parse_flag(raw: str, notices: list[str]) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value not in {"0", "false", "no", "off"}:
        notices.append(f"Show cancelled {quoted(raw)} in the link is not 1 or 0; "
                       "cancelled appointments stay hidden.")
    return False


def filters_from_query(
    params: Mapping[str, str],
    *,
    defaults: ScheduleFilters,
    locations: list[NamedRow],
    providers: list[NamedRow],
    latest: dt.date,
) -> ScheduleFilters:
    """Filters from query-string values; each bad value falls back to its default with a
    notice."""
    notices: list[str] = []
    start, end = defaults.start, defaults.end
    if START in params:
        start = _parse_date(params[START], "Start Date", defaults.start, latest, notices)
    if END in params:
        end = _parse_date(params[END], "End Date", defaults.end, latest, notices)
    elif start > end:
        end = start  # a link to a day ahead (or a day the server's clock has not reached) shows it

    location_id = defaults.location_id
    raw = params.get(LOCATION, "").strip()
    if raw:
        known = {location.id for location in locations}
        if raw.isdigit() and int(raw) in known:
            location_id = int(raw)
        else:
            notices.append(f"Location {quoted(raw)} in the link is not one of this practice's "
                           f"locations; showing {ALL_LOCATIONS.lower()}.")

    provider_ids = defaults.provider_ids
    raw = params.get(PROVIDERS, "").strip()
    if raw:
        known = {provider.id for provider in providers}
        wanted = [part.strip() for part in raw.split(",") if part.strip()]
        chosen = sorted({int(part) for part in wanted if part.isdigit() and int(part) in known})
        refused = [part for part in wanted if not (part.isdigit() and int(part) in known)]
        if refused:
            notices.append(f"Provider(s) {', '.join(refused)} in the link are not this "
                           "practice's providers; "
                           + ("they were left out." if chosen else "showing all providers."))
        if chosen:
            provider_ids = None if len(chosen) == len(known) else tuple(chosen)

    search = defaults.search
    if SEARCH in params:
        search = params[SEARCH].strip()
        if len(search) > MAX_SEARCH_LENGTH:
            notices.append(f"The search in the link is longer than {MAX_SEARCH_LENGTH} "
                           "characters; it was shortened.")
            search = search[:MAX_SEARCH_LENGTH]

    include_cancelled = defaults.include_cancelled
    if CANCELLED in params:
        include_cancelled = _parse_flag(params[CANCELLED], notices)

    return ScheduleFilters(
        start=start, end=end, location_id=location_id, provider_ids=provider_ids,
        search=search, include_cancelled=include_cancelled, notices=tuple(notices),
    )


def filters_to_query(filters: ScheduleFilters, *, defaults: ScheduleFilters) -> dict[str, str]:
    """The query-string values that differ from the defaults (a default view stays `today`)."""
    params: dict[str, str] = {}
    if filters.start != defaults.start:
        params[START] = filters.start.isoformat()
    if filters.end != defaults.end:
        params[END] = filters.end.isoformat()
    if filters.location_id is not None:
        params[LOCATION] = str(filters.location_id)
    if filters.provider_ids is not None:
        params[PROVIDERS] = ",".join(str(provider_id) for provider_id in filters.provider_ids)
    if filters.search:
        params[SEARCH] = filters.search
    if filters.include_cancelled:
        params[CANCELLED] = "1"
    return params


def _select_all(pick_keys: dict[int, str], checked: bool) -> None:
    for key in pick_keys.values():
        st.session_state[key] = checked


def _close_chooser() -> None:
    st.session_state.pop(CHOOSER_OPEN, None)


@st.dialog("Select Provider(s)", on_dismiss=_close_chooser)
def _provider_chooser(providers: list[NamedRow], pick_keys: dict[int, str],
                      store_key: str) -> None:
    left, right = st.columns(2)
    left.button("Select all providers", on_click=_select_all, args=(pick_keys, True),
                width="stretch")
    right.button("Clear", on_click=_select_all, args=(pick_keys, False), width="stretch")
    for provider in providers:
        st.checkbox(provider.name, key=pick_keys[provider.id])
    if st.button("Apply", type="primary", width="stretch"):
        chosen = tuple(sorted(provider.id for provider in providers
                              if st.session_state.get(pick_keys[provider.id])))
        if not chosen:
            st.error("Choose at least one provider, or click Select all providers.")
            return
        current: ScheduleFilters = st.session_state[store_key]
        st.session_state[store_key] = replace(
            current, provider_ids=None if len(chosen) == len(providers) else chosen
        )
        _close_chooser()
        st.rerun()


def _open_chooser(pick_keys: dict[int, str], applied: tuple[int, ...] | None,
                  store_key: str) -> None:
    # The chooser opens with the applied providers ticked, not with last time's clicks.
    for provider_id, key in pick_keys.items():
        st.session_state[key] = applied is None or provider_id in applied
    st.session_state[CHOOSER_OPEN] = store_key


def _applied_providers_text(providers: list[NamedRow], applied: tuple[int, ...] | None) -> str:
    if applied is None:
        return f"All providers ({len(providers)})"
    names = [provider.name for provider in providers if provider.id in applied]
    return ", ".join(names)


def schedule_filters(
    context: PageContext,
    *,
    key: str = "schedule",
    search: bool = True,
    cancelled: bool = True,
    default_days: int = 1,
) -> ScheduleFilters:
    """Render the filters in the sidebar and return them.

    `search` and `cancelled` switch those fields off for pages that do not need them;
    `default_days` is how many days up to today the range covers by default. The values
    follow the user from page to page within the session (per practice).
    """
    practice = context.practice
    today = practice_today(practice.timezone)
    latest = dt.date(today.year + YEARS_AHEAD, 12, 31)
    defaults = ScheduleFilters(start=today - dt.timedelta(days=max(default_days, 1) - 1),
                               end=today)
    locations, providers = load_choices(practice.id)
    names = [START, END, LOCATION, PROVIDERS]
    names += [SEARCH] if search else []
    names += [CANCELLED] if cancelled else []

    store_key = f"_filters_{key}_{practice.id}"
    url_key = f"_filters_{key}_url"
    widget = {name: f"_filters_{key}_{practice.id}_{name}" for name in names}
    in_url = {name: st.query_params[name] for name in names if name in st.query_params}
    stored: ScheduleFilters | None = st.session_state.get(store_key)
    reset = False
    if in_url and in_url != st.session_state.get(url_key):
        # Opened from a link or bookmark: the link wins over what this session had.
        stored = filters_from_query(in_url, defaults=defaults, locations=locations,
                                    providers=providers, latest=latest)
        reset = True
    elif stored is None:
        stored = defaults
    if stored.location_id not in {None, *(location.id for location in locations)}:
        stored = replace(stored, location_id=None)

    initial = {START: stored.start, END: stored.end,
               LOCATION: stored.location_id or _ANY_LOCATION,
               SEARCH: stored.search, CANCELLED: stored.include_cancelled}
    for name, widget_key in widget.items():
        # Widgets forget their value on pages that do not show them; the store remembers.
        if name != PROVIDERS and (reset or widget_key not in st.session_state):
            st.session_state[widget_key] = initial[name]

    location_names = {location.id: location.name for location in locations}
    with st.sidebar:
        start = st.date_input("Start Date", key=widget[START], min_value=EARLIEST,
                              max_value=latest, format="MM/DD/YYYY")
        end = st.date_input("End Date", key=widget[END], min_value=EARLIEST, max_value=latest,
                            format="MM/DD/YYYY")
        location_choice = st.selectbox(
            "Location", [_ANY_LOCATION, *location_names], key=widget[LOCATION],
            format_func=lambda option: location_names.get(option, ALL_LOCATIONS),
        )
        pick_keys = {provider.id: f"{widget[PROVIDERS]}_{provider.id}" for provider in providers}
        st.button("Select Provider(s)", icon=":material/stethoscope:", width="stretch",
                  disabled=not providers, on_click=_open_chooser,
                  args=(pick_keys, stored.provider_ids, store_key))
        if st.session_state.get(CHOOSER_OPEN) == store_key:
            _provider_chooser(providers, pick_keys, store_key)
        st.caption(f"**Providers:** {_applied_providers_text(providers, stored.provider_ids)}")
        text = st.text_input("Search patient name or MRN", key=widget[SEARCH],
                             max_chars=MAX_SEARCH_LENGTH,
                             placeholder="e.g. Rivera, Sam or MRN0001234") if search else ""
        show_cancelled = st.toggle("Show cancelled appointments",
                                   key=widget[CANCELLED]) if cancelled else False

    chosen = ScheduleFilters(
        start=start or defaults.start, end=end or defaults.end,
        location_id=location_choice or None,
        provider_ids=stored.provider_ids, search=(text or "").strip(),
        include_cancelled=bool(show_cancelled),
    )
    # A notice about the link stays until the user changes a filter (reruns that Streamlit
    # or the sign-in cookie start on their own must not wipe it before it is read).
    if chosen == replace(stored, notices=()):
        chosen = replace(chosen, notices=stored.notices)
    for notice in chosen.notices:
        # A notice quotes what the link said: shown as text, never as a link or an image.
        st.warning(plain(notice), icon=":material/link_off:")
    st.session_state[store_key] = chosen
    _mirror_in_url(filters_to_query(chosen, defaults=defaults), names, url_key)
    return chosen


def _mirror_in_url(params: dict[str, str], names: list[str], url_key: str) -> None:
    for name in names:
        if name in params:
            if st.query_params.get(name) != params[name]:
                st.query_params[name] = params[name]
        elif name in st.query_params:
            del st.query_params[name]
    st.session_state[url_key] = params
