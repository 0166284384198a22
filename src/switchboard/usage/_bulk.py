"""Statements over many rows at once, at the speed of the database driver.

`BulkStatement` runs a Core statement, compiled once, through the driver's own `executemany`.
SQLAlchemy's `execute(statement, rows)` builds and converts each row's parameters one by one,
which for the usage writer's wide rows took longer than the database took to store them; here
a row is a tuple, converted only where a parameter's type converts (money, timestamps), by
that type's bind processor as SQLAlchemy would, or by a faster equivalent the caller gives.

`MatchingQuery` is a SELECT of the rows whose column is one of a list of values, the list
given as one parameter, so that the statement's text does not change with its length: SQLite
keeps only a few prepared statements per connection (see `db.py`), and a text per list length
would evict the rest.

Both are compiled for one database connection's dialect and kept with it (`per_connection`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, Dialect, Select, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert, Update

Converter = Callable[[Any], Any]
T = TypeVar("T")
_VALUES = "values"


class BulkStatement:
    """`statement` compiled for `dialect`. Rows are given as values named `names`, in that
    order: the statement's bind parameters (an INSERT's are its columns), maybe with others,
    which it ignores. `converters` replace the bind processors of the parameters they name
    (by a faster equivalent, say)."""

    def __init__(
        self,
        statement: Insert | Update | Select[Any],
        names: Sequence[str],
        dialect: Dialect,
        converters: Mapping[str, Converter] | None = None,
    ) -> None:
        columns = list(names) if isinstance(statement, Insert) else None  # for VALUES (…)
        compiled = statement.compile(dialect=dialect, column_keys=columns)
        assert set(compiled.binds) <= set(names), sorted(compiled.binds)
        self.sql = compiled.string
        self._names = tuple(names)
        self._converters: list[tuple[int, Converter]] = []
        for index, name in enumerate(names):
            if name in compiled.binds:
                convert = (converters or {}).get(name) or _processor(compiled.binds[name], dialect)
                if convert is not None:
                    self._converters.append((index, convert))
        self._bound = tuple(index for index, name in enumerate(names) if name in compiled.binds)
        self._order: tuple[int, ...] | None = None
        if compiled.positional:
            assert compiled.positiontup is not None
            self._order = tuple(self._names.index(name) for name in compiled.positiontup)
        self._in_order = self._order == tuple(range(len(self._names)))

    def execute(self, session: Session, rows: Iterable[Sequence[Any]]) -> int:
        """Run the statement once per row (in order), in the session's transaction; the
        number of rows the database reports changed."""
        parameters = [self._parameters(row) for row in rows]
        if not parameters:
            return 0
        result = session.connection().exec_driver_sql(self.sql, parameters)
        return int(result.rowcount)

    def fetch(self, session: Session, row: Sequence[Any]) -> list[tuple[Any, ...]]:
        """Run the statement (a query) once, for `row`; its rows as the driver gives them."""
        result = session.connection().exec_driver_sql(self.sql, self._parameters(row))
        return [tuple(found) for found in result]

    def _parameters(self, row: Sequence[Any]) -> tuple[Any, ...] | dict[str, Any]:
        values = list(row)
        for index, convert in self._converters:
            values[index] = convert(values[index])
        if self._order is None:
            return {self._names[index]: values[index] for index in self._bound}
        if self._in_order:
            return tuple(values)
        return tuple([values[index] for index in self._order])


def _processor(parameter: Any, dialect: Dialect) -> Converter | None:
    processor: Converter | None = parameter.type.dialect_impl(dialect).bind_processor(dialect)
    return processor


class MatchingQuery:
    """`query` (a SELECT) of the rows whose `column` is one of the values given to `fetch`."""

    def __init__(self, query: Select[Any], column: ColumnElement[Any], dialect: Dialect) -> None:
        self._dialect = dialect
        if dialect.name == "postgresql":
            matching = column == any_(bindparam(_VALUES, type_=ARRAY(column.type)))
        else:
            listed = func.json_each(bindparam(_VALUES)).table_valued("value")
            matching = column.in_(select(listed.c.value))
        self._statement = BulkStatement(query.where(matching), (_VALUES,), dialect)

    def fetch(self, session: Session, values: Iterable[str | int]) -> list[tuple[Any, ...]]:
        listed = list(values)
        if not listed:
            return []
        if self._dialect.name == "postgresql":
            return self._statement.fetch(session, (listed,))
        return self._statement.fetch(session, (orjson.dumps(listed).decode(),))


def per_connection(session: Session, build: Callable[[Dialect], T]) -> T:
    """`build(dialect)` for the session's database connection, built on its first use and
    kept with the connection (`Connection.info`): compiling statements takes longer than
    running them for a few rows."""
    connection = session.connection()
    key = f"switchboard:{build.__module__}.{build.__qualname__}"
    made: T | None = connection.info.get(key)
    if made is None:
        made = connection.info[key] = build(connection.dialect)
    return made
