"""adolescents: who an enrollment invites and the access it gives; the patient's own account

Revision ID: 0007_adolescents
Revises: 0006_new_user_fixes
Create Date: 2026-11-30 21:45:00

enrollment.recipient (Parent / Patient), access_level (Full, Limited, Adolescent, Young adult)
and the adolescent's assent (who, when); portalaccount.patient_id for an account that is the
patient's own. A patient may now have one live parent enrollment and one live enrollment of
their own, so the live-enrollment unique index takes the recipient, and the triggers that copy
"the" live enrollment onto the patient row (0003_patient_live_enrollment) pick one: an active
one first (someone has portal access), else the newest. Plain add_column: `enrollment` is not
rebuilt on SQLite, so its other triggers stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_adolescents"
down_revision: str | None = "0006_new_user_fixes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHERE = sa.text("status <> 'voided'")
# The live enrollment copied onto the patient row: an active one first, else the newest.
_PICK = "ORDER BY (status = 'active') DESC, id DESC LIMIT 1"
_OLD_PICK = ""


def _live(column: str, pid: str, pick: str) -> str:
    return (f"(SELECT {column} FROM enrollment WHERE patient_id = {pid} "
            f"AND status <> 'voided' {pick})").replace(" )", ")")


def _refresh(pid: str, pick: str) -> str:
    return (
        "UPDATE patient SET "
        f"live_enrollment_id = {_live('id', pid, pick)}, "
        f"live_enrollment_status = {_live('status', pid, pick)}, "
        f"live_enrollment_expires_at = {_live('expires_at', pid, pick)} "
        f"WHERE id = {pid}"
    )


SQLITE_TRIGGERS = {
    "trg_enrollment_live_insert": "AFTER INSERT ON enrollment BEGIN {new}; END",
    "trg_enrollment_live_update": (
        "AFTER UPDATE OF status, expires_at, patient_id ON enrollment BEGIN {new}; {old}; END"
    ),
    "trg_enrollment_live_delete": "AFTER DELETE ON enrollment BEGIN {old}; END",
}


def _postgresql_function(pick: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION enrollment_live_refresh() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    {_refresh("NEW.patient_id", pick)};
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.patient_id <> NEW.patient_id) THEN
    {_refresh("OLD.patient_id", pick)};
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql
"""


def _triggers(pick: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_postgresql_function(pick))  # the trigger calls it by name: replaced in place
        return
    for name, body in SQLITE_TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} " + body.format(
            new=_refresh("NEW.patient_id", pick), old=_refresh("OLD.patient_id", pick)))


def _add_reference(table: str, column: str, referred: str) -> None:
    """A nullable integer column referring to `referred`.id, without rebuilding `table`."""
    if op.get_bind().dialect.name == "postgresql":
        op.add_column(table, sa.Column(column, sa.Integer(), nullable=True))
        op.create_foreign_key(f"fk_{table}_{column}_{referred}", table, referred,
                              [column], ["id"])
    else:  # SQLite adds a column with its REFERENCES clause in place
        op.execute(f"ALTER TABLE {table} ADD COLUMN {column} INTEGER REFERENCES {referred} (id)")


def upgrade() -> None:
    op.add_column("enrollment", sa.Column(
        "recipient", sqlmodel.sql.sqltypes.AutoString(length=16), server_default="Parent",
        nullable=False))
    op.add_column("enrollment", sa.Column(
        "access_level", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))
    op.add_column("enrollment", sa.Column(
        "assent_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
    _add_reference("enrollment", "assent_by_id", "staffuser")
    _add_reference("portalaccount", "patient_id", "patient")
    op.drop_index("uq_enrollment_live_patient", table_name="enrollment")
    op.create_index("uq_enrollment_live_patient_recipient", "enrollment",
                    ["patient_id", "recipient"], unique=True,
                    sqlite_where=_WHERE, postgresql_where=_WHERE)
    _triggers(_PICK)


def downgrade() -> None:
    # The patients' own invitations are voided (kept for the audit trail): one live each again.
    op.execute("UPDATE enrollment SET status = 'voided' "
               "WHERE recipient = 'Patient' AND status <> 'voided'")
    op.drop_index("uq_enrollment_live_patient_recipient", table_name="enrollment")
    op.create_index("uq_enrollment_live_patient", "enrollment", ["patient_id"], unique=True,
                    sqlite_where=_WHERE, postgresql_where=_WHERE)
    with op.batch_alter_table("portalaccount") as batch:
        batch.drop_column("patient_id")
    # Dropping columns would rebuild `enrollment` on SQLite and lose its triggers: the columns
    # go with a batch rebuild, and the triggers are created again after it.
    with op.batch_alter_table("enrollment") as batch:
        batch.drop_column("assent_by_id")
        batch.drop_column("assent_at")
        batch.drop_column("access_level")
        batch.drop_column("recipient")
    _triggers(_OLD_PICK)
