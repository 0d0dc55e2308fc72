"""What several bench scripts share: the patients a registration bench can register, the timed
registration loop, and percentiles. Services are imported inside the functions: a script calls
bench.scratch.scratch_portal first, and the settings are read on the first import."""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator


def unregistered_families(practice_id: int) -> list[tuple[int, int, str]]:
    """(patient id, guardian id, guardian email) of each patient with a guardian and no live
    enrollment, one row a patient: each registration of them is a real first one."""
    from sqlmodel import select

    from models import Enrollment, Guardian, PatientGuardian
    from services import db

    with db.session_scope(read_only=True) as session:
        live = select(Enrollment.patient_id).where(Enrollment.status != "voided")
        rows = session.exec(
            select(PatientGuardian.patient_id, Guardian.id, Guardian.email)
            .join(Guardian, Guardian.id == PatientGuardian.guardian_id)
            .where(Guardian.practice_id == practice_id,
                   PatientGuardian.patient_id.not_in(live))
            .order_by(PatientGuardian.patient_id)
        ).all()
    seen, families = set(), []
    for patient_id, guardian_id, email in rows:
        if patient_id not in seen:
            seen.add(patient_id)
            families.append((patient_id, guardian_id, email))
    return families


def time_registrations(families: Iterator[tuple[int, int, str]], count: int, *,
                       practice_id: int, senders, failures: list[str] | None = None
                       ) -> list[float]:
    """Register the next `count` of `families`, one unit of work each; the milliseconds each
    took. With `failures`, an error is counted there (its type) instead of stopping the run."""
    from services import db, registration
    from services.registration_form import RegistrationForm

    timings = []
    for _ in range(count):
        patient_id, guardian_id, email = next(families)
        started = time.perf_counter()
        try:
            with db.session_scope() as session:
                registration.register_patient(
                    session, practice_id=practice_id, patient_id=patient_id,
                    form=RegistrationForm(email=email, guardian_id=guardian_id),
                    actor="bench", senders=senders)
        except Exception as error:
            if failures is None:
                raise
            failures.append(type(error).__name__)  # a desk that got an error
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def percentiles(timings: list[float], *, digits: int = 1) -> dict[str, float]:
    """p50 and p95 in milliseconds (p95: the nearest-rank value), and the number of runs."""
    timings = sorted(timings)
    p95 = timings[min(len(timings) - 1, int(round(0.95 * len(timings))) - 1)]
    return {"p50_ms": round(statistics.median(timings), digits), "p95_ms": round(p95, digits),
            "runs": len(timings)}
