"""reaching families: preferred language, text consent and opt-outs, delivery failures, reminders

Revision ID: 0004_reaching_families
Revises: 0003_patient_live
Create Date: 2026-11-30 18:32:58.699518
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0004_reaching_families'
down_revision: str | None = '0005_front_desk'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _restore_live_enrollment_triggers() -> None:
    """SQLite's batch mode rebuilds the enrollment table and drops its triggers: create the
    live-enrollment triggers of 0003_patient_live again (PostgreSQL keeps them)."""
    if op.get_bind().dialect.name != "sqlite":
        return
    path = Path(__file__).with_name("0003_patient_live_enrollment.py")
    spec = importlib.util.spec_from_file_location("_m0003_patient_live", path)
    live = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(live)
    for name, body in live.SQLITE_TRIGGERS.items():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute(f"CREATE TRIGGER {name} " + body.format(
            new=live._refresh("NEW.patient_id"), old=live._refresh("OLD.patient_id")))


def upgrade() -> None:
    op.create_table('textoptout',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('opted_out_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('recorded_by', sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
    sa.Column('note', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_textoptout')),
    sa.UniqueConstraint('phone', name=op.f('uq_textoptout_phone'))
    )
    op.create_table('remindersent',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('enrollment_id', sa.Integer(), nullable=False),
    sa.Column('point', sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
    sa.Column('sent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['enrollment_id'], ['enrollment.id'], name=op.f('fk_remindersent_enrollment_id_enrollment')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remindersent')),
    sa.UniqueConstraint('enrollment_id', 'point', name=op.f('uq_remindersent_enrollment_id_point'))
    )
    op.create_table('textlog',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('phone', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('practice_id', sa.Integer(), nullable=False),
    sa.Column('outbox_message_id', sa.Integer(), nullable=True),
    sa.Column('queued_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['outbox_message_id'], ['outboxmessage.id'], name=op.f('fk_textlog_outbox_message_id_outboxmessage')),
    sa.ForeignKeyConstraint(['practice_id'], ['practice.id'], name=op.f('fk_textlog_practice_id_practice')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_textlog'))
    )
    with op.batch_alter_table('textlog', schema=None) as batch_op:
        batch_op.create_index('ix_textlog_phone_queued', ['phone', 'queued_at'], unique=False)

    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('text_consent_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('text_consent_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('delivery_failed_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('delivery_failure', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True))
        batch_op.add_column(sa.Column('reminders_sent', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('last_reminder_at', sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_enrollment_text_consent_by_id_staffuser'), 'staffuser', ['text_consent_by_id'], ['id'])
    _restore_live_enrollment_triggers()

    with op.batch_alter_table('guardian', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preferred_language', sqlmodel.sql.sqltypes.AutoString(length=16), server_default='en', nullable=False))

    with op.batch_alter_table('practice', schema=None) as batch_op:
        batch_op.add_column(sa.Column('remind_after_days', sqlmodel.sql.sqltypes.AutoString(length=40), server_default='3,10', nullable=False))
        batch_op.add_column(sa.Column('remind_before_expiry_days', sa.Integer(), server_default='2', nullable=False))
        batch_op.create_check_constraint(batch_op.f('ck_practice_remind_before_expiry'), 'remind_before_expiry_days BETWEEN 0 AND 60')



def downgrade() -> None:
    with op.batch_alter_table('practice', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_practice_remind_before_expiry'), type_='check')
        batch_op.drop_column('remind_before_expiry_days')
        batch_op.drop_column('remind_after_days')

    with op.batch_alter_table('guardian', schema=None) as batch_op:
        batch_op.drop_column('preferred_language')

    with op.batch_alter_table('enrollment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_enrollment_text_consent_by_id_staffuser'), type_='foreignkey')
        batch_op.drop_column('last_reminder_at')
        batch_op.drop_column('reminders_sent')
        batch_op.drop_column('delivery_failure')
        batch_op.drop_column('delivery_failed_at')
        batch_op.drop_column('text_consent_by_id')
        batch_op.drop_column('text_consent_at')
    _restore_live_enrollment_triggers()

    with op.batch_alter_table('textlog', schema=None) as batch_op:
        batch_op.drop_index('ix_textlog_phone_queued')

    op.drop_table('textlog')
    op.drop_table('remindersent')
    op.drop_table('textoptout')
