"""patient language: the language of an invitation of the patient's own

Revision ID: 0009_patient_language
Revises: 0008_visit_facts
Create Date: 2026-12-01 01:30:00

enrollment.language: what the patient reads (welcome email, reminders, PIN letter, activation
page) on their own invitation, chosen at the desk (the family's language at first). A parent's
invitation leaves it empty: the guardian's preferred language is the parent's. Plain
add_column, and a plain DROP COLUMN back (SQLite 3.35+): `enrollment` is not rebuilt on SQLite,
so its triggers (0003, 0004, 0007, 0008) stay as they are.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_patient_language"
down_revision: str | None = "0008_visit_facts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("enrollment", sa.Column(
        "language", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE enrollment DROP COLUMN language")
