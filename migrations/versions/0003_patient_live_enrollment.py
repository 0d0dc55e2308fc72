"""patient live enrollment: the current enrollment's status on the patient row, kept by triggers

Revision ID: 0003_patient_live
Revises: 0002_schedule_cover
Create Date: 2026-11-30 18:55:00

patient.live_enrollment_id / live_enrollment_status / live_enrollment_expires_at mirror the
patient's live (not voided) enrollment. Triggers on enrollment (insert, update of the
columns that matter, delete) recompute them in the same statement's transaction, so every
writer (the app, imports, seed-demo, a hand-written UPDATE) keeps them right. A later
migration that rebuilds the enrollment table on SQLite (batch "move and copy") drops these
triggers and must create them again; tests/services/test_live_enrollment.py would notice.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0003_patient_live"
down_revision: str | None = "0002_schedule_cover"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The one live enrollment of patient `{pid}` (at most one: uq_enrollment_live_patient).
_LIVE = "(SELECT {column} FROM enrollment WHERE patient_id = {pid} AND status <> 'voided')"


def _refresh(pid: str) -> str:
    return (
        "UPDATE patient SET "
        f"live_enrollment_id = {_LIVE.format(column='id', pid=pid)}, "
        f"live_enrollment_status = {_LIVE.format(column='status', pid=pid)}, "
        f"live_enrollment_expires_at = {_LIVE.format(column='expires_at', pid=pid)} "
        f"WHERE id = {pid}"
    )


SQLITE_TRIGGERS = {
    "trg_enrollment_live_insert": "AFTER INSERT ON enrollment BEGIN {new}; END",
    "trg_enrollment_live_update": (
        "AFTER UPDATE OF status, expires_at, patient_id ON enrollment BEGIN {new}; {old}; END"
    ),
    "trg_enrollment_live_delete": "AFTER DELETE ON enrollment BEGIN {old}; END",
}

POSTGRESQL_FUNCTION = f"""
CREATE OR REPLACE FUNCTION enrollment_live_refresh() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_refresh("NEW.patient_id")};
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.patient_id <> NEW.patient_id) THEN
    {_refresh("OLD.patient_id")};
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql
"""

POSTGRESQL_TRIGGER = (
    "CREATE TRIGGER trg_enrollment_live AFTER INSERT OR DELETE OR UPDATE OF status, "
    "expires_at, patient_id ON enrollment FOR EACH ROW EXECUTE FUNCTION enrollment_live_refresh()"
)


def upgrade() -> None:
    op.add_column("patient", sa.Column("live_enrollment_id", sa.Integer(), nullable=True))
    op.add_column("patient", sa.Column("live_enrollment_status",
                                       sqlmodel.sql.sqltypes.AutoString(length=16),
                                       nullable=True))
    op.add_column("patient", sa.Column("live_enrollment_expires_at",
                                       sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    op.execute(_refresh("patient.id")
               + " AND EXISTS (SELECT 1 FROM enrollment WHERE patient_id = patient.id)")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_FUNCTION)
        op.execute(POSTGRESQL_TRIGGER)
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} " + body.format(
                new=_refresh("NEW.patient_id"), old=_refresh("OLD.patient_id")))


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS trg_enrollment_live ON enrollment")
        op.execute("DROP FUNCTION IF EXISTS enrollment_live_refresh()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_column("patient", "live_enrollment_expires_at")
    op.drop_column("patient", "live_enrollment_status")
    op.drop_column("patient", "live_enrollment_id")
