"""staff sessions: one row per signed-in browser, the cookie's id stored hashed

Revision ID: 0004_staff_sessions
Revises: 0003_patient_live
Create Date: 2026-11-30 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004_staff_sessions"
down_revision: str | None = "0003_patient_live"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staffsession",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("staff_user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("expires_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("revoked_reason", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("client", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.ForeignKeyConstraint(["staff_user_id"], ["staffuser.id"],
                                name=op.f("fk_staffsession_staff_user_id_staffuser")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staffsession")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_staffsession_token_hash")),
    )
    with op.batch_alter_table("staffsession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staffsession_staff_user_id"), ["staff_user_id"],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table("staffsession", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staffsession_staff_user_id"))
    op.drop_table("staffsession")
