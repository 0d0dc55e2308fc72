"""The import's bulk writes on SQLite: one executemany of plain tuples per table.

SQLAlchemy's executemany builds a parameter dict per row and runs every column's bind
processor on it (a third of the time of writing 100,000 appointments); an INSERT that asks for
the new ids with RETURNING is run one row at a time, since SQLite does not promise the order
of RETURNING rows (25,000 new patients and as many guardians took 50,000 statements). Here
the values are converted with the same bind processors, only for the columns that have one,
and new rows get their ids up front: the table's highest id plus one, two, ... A writer that
slips in between would make the INSERT fail on the primary key (IntegrityError, which the
importer reports as a concurrent change), never link rows to the wrong ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import Connection, Table

BATCH = 5_000  # rows per executemany


def next_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """`count` unused ids for new rows of `table`, in order."""
    if not count:
        return []
    statement = f"SELECT coalesce(max(id), 0) FROM {_quoted(connection, table.name)}"
    highest = connection.exec_driver_sql(statement).scalar_one()
    return list(range(highest + 1, highest + 1 + count))


def insert_rows(connection: Connection, table: Table, columns: Sequence[str],
                rows: Iterable[Sequence[Any]]) -> None:
    """INSERT `rows` (tuples in `columns` order) into `table`, converting the values as
    SQLAlchemy would. Columns left out get their scalar defaults; a column with a computed
    default must be given."""
    dialect = connection.dialect
    names = list(columns)
    defaults = []
    for column in table.columns:
        if column.name in names or column.default is None:
            continue
        if not column.default.is_scalar:
            raise ValueError(f"{table.name}.{column.name} needs a value")
        names.append(column.name)
        defaults.append(column.default.arg)
    processors = [(place, processor) for place, processor in (
        (place, table.c[name].type.dialect_impl(dialect).bind_processor(dialect))
        for place, name in enumerate(names)) if processor is not None]
    statement = (f"INSERT INTO {_quoted(connection, table.name)} "
                 f"({', '.join(_quoted(connection, name) for name in names)}) "
                 f"VALUES ({', '.join('?' * len(names))})")
    batch: list[tuple[Any, ...]] = []
    for values in _converted(rows, defaults, processors):
        batch.append(values)
        if len(batch) == BATCH:
            connection.exec_driver_sql(statement, batch)
            batch = []
    if batch:
        connection.exec_driver_sql(statement, batch)


def _converted(rows: Iterable[Sequence[Any]], defaults: list[Any],
               processors: list[tuple[int, Any]]) -> Iterator[tuple[Any, ...]]:
    for row in rows:
        values = [*row, *defaults]
        for place, processor in processors:
            values[place] = processor(values[place])
        yield tuple(values)


def _quoted(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)
