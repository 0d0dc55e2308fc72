"""CSV files people open in a spreadsheet: cells that a spreadsheet would run as a formula are
prefixed with `'` (OWASP's advice against CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

# What starts a formula in Excel, LibreOffice and Google Sheets (tab and CR included).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: object) -> object:
    """The value, with a `'` in front when it is text a spreadsheet would read as a formula.

    Numbers stay numbers: a negative count is not text the app was given.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeWriter:
    """csv.writer's writerow/writerows, with every cell neutralised."""

    def __init__(self, stream) -> None:
        self._writer = csv.writer(stream)

    def writerow(self, row: Iterable[object]) -> None:
        self._writer.writerow([neutralise_cell(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document with every cell neutralised."""
    buffer = io.StringIO()
    writer = SafeWriter(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def frame_csv(frame) -> str:
    """A pandas DataFrame as CSV with every text cell neutralised (no index)."""
    return frame.map(neutralise_cell).to_csv(index=False)
