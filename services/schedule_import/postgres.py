"""The import's bulk writes on PostgreSQL: COPY instead of multi-row INSERT statements, and
UPDATE ... FROM a COPY-filled temporary table instead of one UPDATE per row.

A 100,000-row import spent most of its time waiting on round trips (about 100 INSERTs of
1,000 rows and their RETURNING, one UPDATE per changed row); COPY streams the rows in one go.
What to write is still decided in Python (`upsert`), so the report, the idempotence and a
clash with a concurrent import (a unique key violated: IntegrityError) behave as before.
New patients and guardians get their ids from the table's sequence first, so the rows that
link to them can be written with them without a RETURNING.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

STAGE = "schedule_import_stage"  # the temporary table of one UPDATE, dropped after it


def _driver(connection: Connection) -> psycopg.Connection:
    return connection.connection.driver_connection


@contextlib.contextmanager
def _integrity_as_sqlalchemy(statement: str) -> Iterator[None]:
    """A unique or foreign key violated by COPY, raised as SQLAlchemy's IntegrityError, which
    the importer turns into its "another import touched the same rows" message."""
    try:
        yield
    except psycopg.IntegrityError as error:
        raise IntegrityError(statement, None, error) from error


def copy_rows(connection: Connection, table: str, columns: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> None:
    """COPY `rows` (tuples in `columns` order) into `table`, in the caller's transaction."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    with (_integrity_as_sqlalchemy(f"COPY {table}"), _driver(connection).cursor() as cursor,
          cursor.copy(statement) as copy):
        for row in rows:
            copy.write_row(row)


def next_ids(connection: Connection, table: str, count: int) -> list[int]:
    """`count` new ids from the sequence of `table`'s id column."""
    if not count:
        return []
    with _driver(connection).cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) "
                       "FROM generate_series(1, %s)", (table, count))
        return [row_id for (row_id,) in cursor.fetchall()]


def update_by_id(connection: Connection, table: str, columns: Sequence[str],
                 rows: Iterable[Sequence[Any]]) -> None:
    """Set `columns` of the rows of `table` with the given ids: `rows` are (id, *values).

    The values are COPYed into a temporary table made like `table` (same column types),
    joined in one UPDATE, and the temporary table is dropped (an import may run twice in
    one transaction)."""
    names = sql.SQL(", ").join(map(sql.Identifier, ("id", *columns)))
    target = sql.Identifier(table)
    stage = sql.Identifier(STAGE)
    driver = _driver(connection)
    with driver.cursor() as cursor:
        cursor.execute(sql.SQL("CREATE TEMPORARY TABLE {} AS SELECT {} FROM {} WITH NO DATA")
                       .format(stage, names, target))
    copy_rows(connection, STAGE, ("id", *columns), rows)
    assignments = sql.SQL(", ").join(
        sql.SQL("{0} = s.{0}").format(sql.Identifier(name)) for name in columns)
    with (_integrity_as_sqlalchemy(f"UPDATE {table}"), driver.cursor() as cursor):
        cursor.execute(sql.SQL("UPDATE {} AS t SET {} FROM {} AS s WHERE t.id = s.id")
                       .format(target, assignments, stage))
        cursor.execute(sql.SQL("DROP TABLE {}").format(stage))
