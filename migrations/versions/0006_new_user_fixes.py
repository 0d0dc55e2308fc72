"""issue 16: the practice's patient-portal sign-in address

Revision ID: 0006_new_user_fixes
Revises: 0005_front_desk
Create Date: 2026-11-30 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_new_user_fixes"
down_revision: str | None = "0004_reaching_families"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("practice") as batch:
        batch.add_column(sa.Column("portal_sign_in_url",
                                   sqlmodel.sql.sqltypes.AutoString(length=500),
                                   server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("practice") as batch:
        batch.drop_column("portal_sign_in_url")
