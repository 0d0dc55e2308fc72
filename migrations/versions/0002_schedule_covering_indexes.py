"""schedule covering indexes: the Dashboard's window read from the index alone

Revision ID: 0002_schedule_cover
Revises: 0001
Create Date: 2026-11-30 18:45:00

The schedule's two indexes gain the columns its summary reads (status, location, provider,
patient), so a window's count and its unique patients never visit the table rows; the
patient index gains the window's columns, so a large window's summary can ask per patient
"any visit in the window?" from the index alone. The leading columns are unchanged: every
query the narrow indexes served, these serve.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002_schedule_cover"
down_revision: str | None = "0002_ops"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WINDOW = ["practice_id", "start_at", "status", "location_id", "provider_id", "patient_id"]
PROVIDER = ["practice_id", "provider_id", "start_at", "status", "location_id", "patient_id"]
PATIENT = ["patient_id", "start_at", "status", "location_id", "provider_id", "practice_id"]


def upgrade() -> None:
    op.create_index("ix_appointment_window", "appointment", WINDOW)
    op.create_index("ix_appointment_provider_window", "appointment", PROVIDER)
    op.create_index("ix_appointment_patient_window", "appointment", PATIENT)
    op.drop_index("ix_appointment_practice_start", table_name="appointment")
    op.drop_index("ix_appointment_patient_id", table_name="appointment")
    op.drop_index("ix_appointment_practice_provider_start", table_name="appointment")


def downgrade() -> None:
    op.create_index("ix_appointment_patient_id", "appointment", ["patient_id"])
    op.drop_index("ix_appointment_patient_window", table_name="appointment")
    op.create_index("ix_appointment_practice_start", "appointment", ["practice_id", "start_at"])
    op.create_index("ix_appointment_practice_provider_start", "appointment",
                    ["practice_id", "provider_id", "start_at"])
    op.drop_index("ix_appointment_provider_window", table_name="appointment")
    op.drop_index("ix_appointment_window", table_name="appointment")
