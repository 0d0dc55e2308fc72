"""SQLModel tables of Practice Portal, and the plain schemas around them.

Import this package (not the submodules) so that every table is registered on
``SQLModel.metadata`` before Alembic or a session looks at it.
"""

from sqlmodel import SQLModel

# A fixed naming convention gives every constraint a stable name, which Alembic's
# batch mode needs to alter tables on SQLite.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

from models.tables import (  # noqa: E402
    Appointment,
    AppointmentStatus,
    AuditEvent,
    Enrollment,
    EnrollmentMethod,
    EnrollmentRecipient,
    EnrollmentStatus,
    Guardian,
    Holiday,
    ImportMapping,
    Location,
    OutboxMessage,
    OutboxStatus,
    Patient,
    PatientGuardian,
    PortalAccess,
    PortalAccount,
    Practice,
    Provider,
    RateLimit,
    ReminderSent,
    Role,
    StaffPractice,
    StaffSession,
    StaffUser,
    TextLog,
    TextOptOut,
    VisitFact,
    WorkerHeartbeat,
    utcnow,
)

__all__ = [
    "Appointment",
    "AppointmentStatus",
    "AuditEvent",
    "Enrollment",
    "EnrollmentMethod",
    "EnrollmentRecipient",
    "EnrollmentStatus",
    "Guardian",
    "Holiday",
    "ImportMapping",
    "Location",
    "OutboxMessage",
    "OutboxStatus",
    "Patient",
    "PatientGuardian",
    "PortalAccess",
    "PortalAccount",
    "Practice",
    "Provider",
    "RateLimit",
    "ReminderSent",
    "Role",
    "SQLModel",
    "StaffPractice",
    "StaffSession",
    "StaffUser",
    "TextLog",
    "TextOptOut",
    "VisitFact",
    "WorkerHeartbeat",
    "utcnow",
]
