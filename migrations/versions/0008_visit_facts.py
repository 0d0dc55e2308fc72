"""visit facts: completed visits with the patient's previous completed visit, and the patient's
first invitation and activation, all kept by database triggers

Revision ID: 0008_visit_facts
Revises: 0007_adolescents
Create Date: 2026-11-30 21:40:00

visit_fact holds one row per completed appointment with the start of the same patient's
previous completed visit (overall, with the same provider, at the same location; ties broken
by provider, location and id) and a copy of the patient's access columns (first invitation,
first activation, live enrollment status and expiry; a trigger on patient keeps the copy). Triggers on appointment recompute the patient's rows whenever a
visit is added, removed, or changes status, start, patient, provider or location, so every
writer (the app, imports, COPY, seed-demo, a hand-written UPDATE) keeps them right. Times
stay UTC: the practice's local days are applied at query time, so a timezone change needs no
rebuild. patient.first_invited_at / first_activated_at are kept the same way from enrollment
and portalaccess. A later migration that rebuilds appointment, enrollment, portalaccess or
patient on SQLite must recreate these triggers (tests/services/test_visit_facts.py notices).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_visit_facts"
down_revision: str | None = "0007_adolescents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ORDER = "a.start_at, a.provider_id, a.location_id, a.id"


PATIENT_COLUMNS = ("first_invited_at", "first_activated_at", "live_enrollment_status",
                   "live_enrollment_expires_at")


def refresh_facts(pid: str) -> str:
    """Statements recomputing patient `pid`'s visit_fact rows (';'-separated)."""
    copied = ", ".join(PATIENT_COLUMNS)
    return (
        f"DELETE FROM visit_fact WHERE patient_id = {pid}; "
        "INSERT INTO visit_fact (appointment_id, practice_id, patient_id, provider_id, "
        "location_id, start_at, prev_start_at, prev_provider_start_at, prev_location_start_at, "
        f"{copied}) "
        "SELECT a.id, a.practice_id, a.patient_id, a.provider_id, a.location_id, a.start_at, "
        f"LAG(a.start_at) OVER (PARTITION BY a.patient_id ORDER BY {_ORDER}), "
        f"LAG(a.start_at) OVER (PARTITION BY a.patient_id, a.provider_id ORDER BY {_ORDER}), "
        f"LAG(a.start_at) OVER (PARTITION BY a.patient_id, a.location_id ORDER BY {_ORDER}), "
        + ", ".join(f"p.{name}" for name in PATIENT_COLUMNS)
        + " FROM appointment AS a JOIN patient AS p ON p.id = a.patient_id "
        f"WHERE a.patient_id = {pid} AND a.status = 'completed'"
    )


def copy_patient(new: str) -> str:
    """The statement copying a patient's access columns onto its visit_fact rows."""
    return ("UPDATE visit_fact SET "
            + ", ".join(f"{name} = {new}.{name}" for name in PATIENT_COLUMNS)
            + f" WHERE patient_id = {new}.id")


# A new visit after all of its patient's completed visits (in the facts' order) changes no
# other row: its previous visits are the latest ones, read from ix_visit_fact_patient. Any
# other new visit (an earlier one, entered late) recomputes the patient's rows.
LATER_VISIT = (
    "EXISTS (SELECT 1 FROM visit_fact AS f WHERE f.patient_id = NEW.patient_id AND "
    "(f.start_at, f.provider_id, f.location_id, f.appointment_id) > "
    "(NEW.start_at, NEW.provider_id, NEW.location_id, NEW.id))"
)


def append_fact() -> str:
    """The statement adding the fact row of NEW, a completed visit after all of its
    patient's others (no LATER_VISIT)."""
    def latest(where: str = "") -> str:
        return ("(SELECT max(f.start_at) FROM visit_fact AS f "
                f"WHERE f.patient_id = NEW.patient_id{where})")

    return (
        "INSERT INTO visit_fact (appointment_id, practice_id, patient_id, provider_id, "
        "location_id, start_at, prev_start_at, prev_provider_start_at, prev_location_start_at, "
        f"{', '.join(PATIENT_COLUMNS)}) "
        "SELECT NEW.id, NEW.practice_id, NEW.patient_id, NEW.provider_id, NEW.location_id, "
        f"NEW.start_at, {latest()}, {latest(' AND f.provider_id = NEW.provider_id')}, "
        f"{latest(' AND f.location_id = NEW.location_id')}, "
        + ", ".join(f"p.{name}" for name in PATIENT_COLUMNS)
        + " FROM patient AS p WHERE p.id = NEW.patient_id"
    )


def refresh_access(pid: str) -> str:
    """The statement recomputing patient `pid`'s first invitation and first activation."""
    return (
        "UPDATE patient SET "
        f"first_invited_at = (SELECT min(issued_at) FROM enrollment WHERE patient_id = {pid}), "
        "first_activated_at = (SELECT min(moment) FROM ("
        f"SELECT activated_at AS moment FROM enrollment WHERE patient_id = {pid} UNION ALL "
        f"SELECT granted_at FROM portalaccess WHERE patient_id = {pid}) AS activations) "
        f"WHERE id = {pid}"
    )


_VISIT = "status, start_at, patient_id, provider_id, location_id"
_CHANGED = " OR ".join(f"OLD.{name} IS NOT NEW.{name}" for name in _VISIT.split(", "))
# NULL unless the visit moved to another patient: refresh_facts of NULL touches no row.
_MOVED_FROM = "(CASE WHEN OLD.patient_id <> NEW.patient_id THEN OLD.patient_id END)"
SQLITE_TRIGGERS = {
    "trg_visit_fact_insert": (
        f"AFTER INSERT ON appointment WHEN NEW.status = 'completed' AND {LATER_VISIT} "
        "BEGIN {new}; END"),
    "trg_visit_fact_append": (
        f"AFTER INSERT ON appointment WHEN NEW.status = 'completed' AND NOT {LATER_VISIT} "
        f"BEGIN {append_fact()}; END"),
    # Only when a column the facts read changed (an import re-writing a row as it was does
    # nothing); the old patient's rows only when the visit moved to another patient (old
    # first, so that the moved visit's row is gone before the new patient's are written).
    "trg_visit_fact_update": (
        f"AFTER UPDATE OF {_VISIT} ON appointment WHEN (NEW.status = 'completed' "
        f"OR OLD.status = 'completed') AND ({_CHANGED}) BEGIN {{old}}; {{new}}; END"),
    "trg_visit_fact_delete": (
        "AFTER DELETE ON appointment WHEN OLD.status = 'completed' BEGIN {old}; END"),
}
# Only when a copied value changed: refresh_access rewrites the patient's columns on every
# enrollment write, mostly with the values they had.
_PATIENT_CHANGED = " OR ".join(f"OLD.{name} IS NOT NEW.{name}" for name in PATIENT_COLUMNS)
SQLITE_PATIENT_TRIGGER = (
    "CREATE TRIGGER trg_visit_fact_patient AFTER UPDATE OF " + ", ".join(PATIENT_COLUMNS)
    + f" ON patient WHEN {_PATIENT_CHANGED} BEGIN " + copy_patient("NEW") + "; END")
SQLITE_ACCESS_TRIGGERS = {
    "trg_patient_access_enrollment_insert": "AFTER INSERT ON enrollment BEGIN {new}; END",
    "trg_patient_access_enrollment_update": (
        "AFTER UPDATE OF issued_at, activated_at, patient_id ON enrollment "
        "BEGIN {new}; {old}; END"),
    "trg_patient_access_enrollment_delete": "AFTER DELETE ON enrollment BEGIN {old}; END",
    "trg_patient_access_grant_insert": "AFTER INSERT ON portalaccess BEGIN {new}; END",
    "trg_patient_access_grant_update": (
        "AFTER UPDATE OF granted_at, patient_id ON portalaccess BEGIN {new}; {old}; END"),
    "trg_patient_access_grant_delete": "AFTER DELETE ON portalaccess BEGIN {old}; END",
}

POSTGRESQL_FUNCTIONS = f"""
CREATE OR REPLACE FUNCTION visit_fact_refresh() RETURNS trigger AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    IF NEW.status = 'completed' THEN
      IF {LATER_VISIT} THEN {refresh_facts("NEW.patient_id")}; ELSE {append_fact()}; END IF;
    END IF;
  ELSIF TG_OP = 'DELETE' THEN
    IF OLD.status = 'completed' THEN {refresh_facts("OLD.patient_id")}; END IF;
  ELSIF (NEW.status = 'completed' OR OLD.status = 'completed')
        AND (OLD.status, OLD.start_at, OLD.patient_id, OLD.provider_id, OLD.location_id)
            IS DISTINCT FROM
            (NEW.status, NEW.start_at, NEW.patient_id, NEW.provider_id, NEW.location_id) THEN
    IF OLD.patient_id <> NEW.patient_id THEN {refresh_facts("OLD.patient_id")}; END IF;
    {refresh_facts("NEW.patient_id")};
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION patient_access_refresh() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {refresh_access("NEW.patient_id")};
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.patient_id <> NEW.patient_id) THEN
    {refresh_access("OLD.patient_id")};
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE OR REPLACE FUNCTION visit_fact_patient_copy() RETURNS trigger AS $$
BEGIN
  {copy_patient("NEW")};
  RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

POSTGRESQL_TRIGGERS = [
    f"CREATE TRIGGER trg_visit_fact AFTER INSERT OR DELETE OR UPDATE OF {_VISIT} "
    "ON appointment FOR EACH ROW EXECUTE FUNCTION visit_fact_refresh()",
    "CREATE TRIGGER trg_patient_access_enrollment AFTER INSERT OR DELETE OR UPDATE OF "
    "issued_at, activated_at, patient_id ON enrollment FOR EACH ROW "
    "EXECUTE FUNCTION patient_access_refresh()",
    "CREATE TRIGGER trg_visit_fact_patient AFTER UPDATE OF " + ", ".join(PATIENT_COLUMNS)
    + " ON patient FOR EACH ROW WHEN ("
    + " OR ".join(f"OLD.{name} IS DISTINCT FROM NEW.{name}" for name in PATIENT_COLUMNS)
    + ") EXECUTE FUNCTION visit_fact_patient_copy()",
    "CREATE TRIGGER trg_patient_access_grant AFTER INSERT OR DELETE OR UPDATE OF "
    "granted_at, patient_id ON portalaccess FOR EACH ROW "
    "EXECUTE FUNCTION patient_access_refresh()",
]


def rebuild_all() -> list[str]:
    """Statements that fill visit_fact and the patient columns from existing data."""
    everything = refresh_facts("x").replace(" WHERE a.patient_id = x AND", " WHERE")
    _delete, insert = everything.split("; ", 1)
    return [
        refresh_access("patient.id")
        + " AND (EXISTS (SELECT 1 FROM enrollment WHERE patient_id = patient.id)"
        " OR EXISTS (SELECT 1 FROM portalaccess WHERE patient_id = patient.id))",
        "DELETE FROM visit_fact",
        insert,
    ]


def upgrade() -> None:
    op.add_column("patient", sa.Column("first_invited_at",
                                       sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.add_column("patient", sa.Column("first_activated_at",
                                       sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.create_table(
        "visit_fact",
        sa.Column("appointment_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("practice_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("start_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("prev_start_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("prev_provider_start_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("prev_location_start_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("first_invited_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("first_activated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("live_enrollment_status", sqlmodel.sql.sqltypes.AutoString(length=16),
                  nullable=True),
        sa.Column("live_enrollment_expires_at", sqlmodel.sql.sqltypes.UTCDateTime(),
                  nullable=True),
        sa.PrimaryKeyConstraint("appointment_id"),
    )
    op.create_index("ix_visit_fact_window", "visit_fact", [
        "practice_id", "start_at", "patient_id", "provider_id", "location_id", "prev_start_at",
        "prev_provider_start_at", "prev_location_start_at", *PATIENT_COLUMNS])
    op.create_index("ix_visit_fact_patient", "visit_fact", ["patient_id", "start_at"])
    for statement in rebuild_all():
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTIONS)
        for statement in POSTGRESQL_TRIGGERS:
            op.execute(statement)
        return
    for name, body in SQLITE_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} " + body.format(
            new=refresh_facts("NEW.patient_id"),
            old=refresh_facts(_MOVED_FROM if name == "trg_visit_fact_update"
                              else "OLD.patient_id")))
    for name, body in SQLITE_ACCESS_TRIGGERS.items():
        op.execute(f"CREATE TRIGGER {name} " + body.format(
            new=refresh_access("NEW.patient_id"), old=refresh_access("OLD.patient_id")))
    op.execute(SQLITE_PATIENT_TRIGGER)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_visit_fact ON appointment")
        op.execute("DROP TRIGGER IF EXISTS trg_patient_access_enrollment ON enrollment")
        op.execute("DROP TRIGGER IF EXISTS trg_patient_access_grant ON portalaccess")
        op.execute("DROP TRIGGER IF EXISTS trg_visit_fact_patient ON patient")
        op.execute("DROP FUNCTION IF EXISTS visit_fact_patient_copy()")
        op.execute("DROP FUNCTION IF EXISTS visit_fact_refresh()")
        op.execute("DROP FUNCTION IF EXISTS patient_access_refresh()")
    else:
        for name in (*SQLITE_TRIGGERS, *SQLITE_ACCESS_TRIGGERS, "trg_visit_fact_patient"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_index("ix_visit_fact_patient", table_name="visit_fact")
    op.drop_index("ix_visit_fact_window", table_name="visit_fact")
    op.drop_table("visit_fact")
    op.drop_column("patient", "first_activated_at")
    op.drop_column("patient", "first_invited_at")
