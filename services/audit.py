"""The audit trail: one append-only event for every action on portal access."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session

from models import AuditEvent, utcnow


def record_event(
    session: Session,
    *,
    actor: str,
    action: str,
    practice_id: int | None = None,
    patient_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    """Add an audit event to the session's unit of work (committed with it)."""
    event = AuditEvent(
        at=utcnow(),
        actor=actor,
        action=action,
        practice_id=practice_id,
        patient_id=patient_id,
        detail=json.dumps(detail, default=str, sort_keys=True) if detail else "",
    )
    session.add(event)
    return event
