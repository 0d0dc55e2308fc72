"""front desk: appointment status Arrived; practice Confidential age

Revision ID: 0005_front_desk
Revises: 0003_patient_live
Create Date: 2026-11-30 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005_front_desk'
down_revision: str | None = "0004_staff_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WITH_ARRIVED = "status IN ('scheduled', 'arrived', 'completed', 'cancelled', 'no_show')"
WITHOUT = "status IN ('scheduled', 'completed', 'cancelled', 'no_show')"


def _status_check(condition: str) -> None:
    with op.batch_alter_table('appointment') as batch_op:
        batch_op.drop_constraint(op.f('ck_appointment_status'), type_='check')
        batch_op.create_check_constraint(op.f('ck_appointment_status'), condition)


def upgrade() -> None:
    _status_check(WITH_ARRIVED)
    with op.batch_alter_table('practice') as batch_op:
        batch_op.add_column(sa.Column('confidential_age', sa.Integer(), nullable=True,
                                      server_default='12'))
        batch_op.create_check_constraint(
            op.f('ck_practice_confidential_age'),
            'confidential_age IS NULL OR confidential_age BETWEEN 1 AND 30')


def downgrade() -> None:
    with op.batch_alter_table('practice') as batch_op:
        batch_op.drop_constraint(op.f('ck_practice_confidential_age'), type_='check')
        batch_op.drop_column('confidential_age')
    op.execute("UPDATE appointment SET status = 'scheduled' WHERE status = 'arrived'")
    _status_check(WITHOUT)
