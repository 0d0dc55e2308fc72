"""Shared by the admin pages' AppTests: a full app.py run on every rerun, and widget lookup."""

from __future__ import annotations


def widget(at, kind: str, label: str):
    """The one widget of `kind` (e.g. "text_input") whose label is `label`."""
    found = [w for w in getattr(at, kind) if w.label == label]
    assert len(found) == 1, (kind, label, [w.label for w in getattr(at, kind)])
    return found[0]
