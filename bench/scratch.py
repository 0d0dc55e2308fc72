"""The scratch installation every bench script runs in: a fresh data folder, the database
(a SQLite file in that folder unless a URL is given), and no mail or SMS configured."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def scratch_portal(name: str, url: str | None, *, keep_delivery: bool = False) -> str:
    """Point the app's settings at a new data folder and database; returns the database URL.

    Call before importing services (their settings are read on first use). With
    `keep_delivery`, SMTP and SMS settings from the environment stay (a bench that sends)."""
    folder = Path(tempfile.mkdtemp(prefix=f"portal-bench-{name}-"))
    url = url or f"sqlite:///{folder / 'portal.db'}"
    os.environ["PORTAL_DATABASE_URL"] = url
    os.environ["PORTAL_DATA_DIR"] = str(folder)
    if not keep_delivery:
        for variable in ("PORTAL_SMTP_HOST", "PORTAL_SMS_API_URL"):
            os.environ.pop(variable, None)
    return url
