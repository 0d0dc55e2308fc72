"""What an import tells its caller: the setup the page maps columns with, each rejected row,
the counts and outcomes of a finished import, and the downloadable report (CSV)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field

from services.spreadsheet import SafeWriter

Progress = Callable[[float, str], None]
CSV_KIND = "csv"
FHIR_KIND = "fhir"


@dataclass(frozen=True)
class RejectedRow:
    """A row (CSV) or entry (FHIR) that was not imported, and why."""

    row: int
    reason: str
    source_id: str = ""


@dataclass(frozen=True)
class ImportSetup:
    """What the page needs to map a file's columns before importing it."""

    kind: str  # csv or fhir
    filename: str
    headers: list[str]
    mapping: dict[str, str | None]
    saved_mapping: bool  # the suggestion starts from the practice's saved mapping
    rows: int  # data rows (CSV) or entries (FHIR) in the file


# One line of the downloadable report: (row, appointment id, outcome, reason). A plain tuple:
# an import makes one per row, and the garbage collector passes over plain tuples of plain
# values but never over a NamedTuple, which made a 100,000-row import half a second slower.
OutcomeLine = tuple[int, str, str, str]


@dataclass
class ImportReport:
    """What an import did: counts per appointment row, and every rejected row's reason."""

    kind: str
    filename: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    committed: bool = False
    patients_created: int = 0
    patients_updated: int = 0
    guardians_created: int = 0
    guardians_updated: int = 0
    providers_created: list[str] = field(default_factory=list)
    locations_created: list[str] = field(default_factory=list)
    ignored: int = 0  # FHIR entries of other resource types
    arrived_kept: int = 0  # Arrived on file, Booked in the file: kept Arrived
    # Every row read, for the downloadable report.
    outcomes: list[OutcomeLine] = field(default_factory=list)

    @property
    def row_label(self) -> str:
        return "Entry" if self.kind == FHIR_KIND else "Row"

    @property
    def _rows_word(self) -> str:
        return "entries" if self.kind == FHIR_KIND else "rows"

    @property
    def summary(self) -> str:
        """One sentence for the page and the command line."""
        if not self.committed:
            valid = self.rows - len(self.rejected)
            problems = (f"Nothing was imported: {len(self.rejected):,} of {self.rows:,} "
                        f"{self._rows_word} have problems (listed below).")
            if not valid:
                return f"{problems} Fix them in the file and import it again."
            other = "other one" if valid == 1 else f"other {valid:,}"
            return (f"{problems} Fix them in the file, or choose to keep the valid "
                    f"{self._rows_word} to import the {other}.")
        text = (
            f"Imported {self.rows - len(self.rejected):,} of {self.rows:,} "
            f"{self._rows_word}: {self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {len(self.rejected):,} rejected."
        )
        if self.arrived_kept:
            visits = ("1 visit the desk marked Arrived stays" if self.arrived_kept == 1 else
                      f"{self.arrived_kept:,} visits the desk marked Arrived stay")
            text += f" {visits} Arrived (the file still says Booked)."
        if self.providers_created or self.locations_created:
            made = [*self.providers_created, *self.locations_created]
            text += f" New providers and locations: {', '.join(made)}."
        return text


def report_csv(report: ImportReport) -> bytes:
    """The import report as CSV: one line per row read, with its outcome and reason."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)  # row values come from the uploaded file
    writer.writerow([report.row_label, "Appointment ID", "Outcome", "Reason"])
    writer.writerows(sorted(report.outcomes))
    return buffer.getvalue().encode("utf-8-sig")
