"""The demo's families: guardians named to match their relationship, children, siblings;
and the bulk-insert helpers every part of the demo uses."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from faker import Faker
from sqlalchemy import func, insert, select, text
from sqlmodel import Session

from models import Guardian, Patient, PatientGuardian

BATCH = 20_000
AREA_CODES = ["617", "312", "415", "646"]
# Who brings the child, and how often; the first name is drawn to match.
FAMILY_SHAPES = [
    (("Mother", "Father"), 0.50),
    (("Mother",), 0.30),
    (("Father",), 0.10),
    (("Mother", "Grandmother"), 0.05),
    (("Grandmother",), 0.03),
    (("Legal Guardian",), 0.02),
]
WOMEN = {"Mother", "Grandmother"}
MEN = {"Father", "Grandfather"}

Progress = Callable[[float, str], None]


def next_id(session: Session, table) -> int:
    return (session.execute(select(func.max(table.id))).scalar() or 0) + 1


def bump_sequence(session: Session, table) -> None:
    # Explicit ids make bulk inserts fast; PostgreSQL's sequence must then catch up.
    if session.get_bind().dialect.name == "postgresql":
        name = table.__tablename__
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {name}))"
            )
        )


def insert_rows(session: Session, table, rows: list[dict]) -> None:
    if rows:
        session.execute(insert(table), rows)


@dataclass
class Families:
    """Patients and guardians as they are drawn, flushed to the database in batches."""

    practice_id: int
    today: dt.date
    next_patient_id: int
    next_guardian_id: int
    patient_rows: list[dict] = field(default_factory=list)
    guardian_rows: list[dict] = field(default_factory=list)
    link_rows: list[dict] = field(default_factory=list)
    guardian_count: int = 0
    birth_days: list[int] = field(default_factory=list)  # each patient's age in days, in order

    @property
    def first_patient_id(self) -> int:
        return self.next_patient_id - len(self.birth_days)

    def born(self, offset: int) -> dt.date:
        """The date of birth of the family's `offset`-th patient."""
        return self.today - dt.timedelta(days=self.birth_days[offset])

    def add_guardian(self, first: str, last: str, relationship: str, phone: str) -> int:
        guardian_id = self.next_guardian_id
        self.guardian_rows.append({
            "id": guardian_id,
            "practice_id": self.practice_id,
            "first_name": first,
            "last_name": last,
            "relationship": relationship,
            "email": f"{first.lower()}.{last.lower()}{guardian_id}@example.com",
            "cell_phone": phone,
        })
        self.next_guardian_id += 1
        self.guardian_count += 1
        return guardian_id

    def add_patient(self, first: str, last: str, age_days: int, guardians: list[int]) -> None:
        patient_id = self.next_patient_id
        self.patient_rows.append({
            "id": patient_id,
            "practice_id": self.practice_id,
            "mrn": f"MRN{patient_id:07d}",
            "first_name": first,
            "last_name": last,
            "date_of_birth": self.today - dt.timedelta(days=age_days),
        })
        self.link_rows.extend({"patient_id": patient_id, "guardian_id": g} for g in guardians)
        self.birth_days.append(age_days)
        self.next_patient_id += 1

    def flush(self, session: Session) -> None:
        insert_rows(session, Guardian, self.guardian_rows)
        insert_rows(session, Patient, self.patient_rows)
        insert_rows(session, PatientGuardian, self.link_rows)
        self.patient_rows, self.guardian_rows, self.link_rows = [], [], []


@dataclass(frozen=True)
class NamePools:
    """Faker names drawn once: Faker per row would dominate the run time at a million rows."""

    female: list[str]
    male: list[str]
    last: list[str]

    @classmethod
    def draw(cls, fake: Faker) -> NamePools:
        return cls(female=[fake.first_name_female() for _ in range(300)],
                   male=[fake.first_name_male() for _ in range(300)],
                   last=[fake.last_name() for _ in range(600)])

    def first_for(self, rng: random.Random, relationship: str) -> str:
        if relationship in WOMEN:
            return rng.choice(self.female)
        if relationship in MEN:
            return rng.choice(self.male)
        return rng.choice(self.female if rng.random() < 0.5 else self.male)


def demo_phone(rng: random.Random) -> str:
    return f"+1{rng.choice(AREA_CODES)}55501{rng.randrange(100):02d}"


def _new_family(rng: random.Random, names: NamePools, families: Families,
                last: str) -> list[int]:
    shape = rng.choices([relations for relations, _ in FAMILY_SHAPES],
                        [share for _, share in FAMILY_SHAPES])[0]
    return [families.add_guardian(names.first_for(rng, relation), last, relation,
                                  demo_phone(rng))
            for relation in shape]


def seed_families(session: Session, *, rng: random.Random, fake: Faker, practice_id: int,
                   patients: int, today: dt.date, progress: Progress) -> Families:
    """`patients` children with one or two guardians each; about one child in six is a
    sibling sharing the family's guardians (sometimes only the first, a half-sibling)."""
    names = NamePools.draw(fake)
    families = Families(practice_id=practice_id, today=today,
                         next_patient_id=next_id(session, Patient),
                         next_guardian_id=next_id(session, Guardian))
    family_guardians: list[int] = []
    family_last = ""
    for index in range(patients):
        sibling = index > 0 and rng.random() < 0.15
        if not sibling:
            family_last = rng.choice(names.last)
            family_guardians = _new_family(rng, names, families, family_last)
        elif len(family_guardians) > 1 and rng.random() < 0.2:
            # A half-sibling: the first guardian is shared, the other is not.
            family_guardians = family_guardians[:1] + [families.add_guardian(
                names.first_for(rng, "Father"), rng.choice(names.last), "Father",
                demo_phone(rng))]
        child_first = rng.choice(names.female if rng.random() < 0.5 else names.male)
        age_days = rng.randrange(0, 18 * 365)
        families.add_patient(child_first, family_last, age_days, family_guardians)
        if len(families.patient_rows) >= BATCH:
            families.flush(session)
            progress(0.05 + 0.15 * index / patients, f"Patients {index + 1:,} of {patients:,}")
    families.flush(session)
    bump_sequence(session, Guardian)
    bump_sequence(session, Patient)
    return families
