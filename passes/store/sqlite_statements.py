"""SQLAlchemy Core statements compiled once for the plain sqlite3 module.

The hot SQLite paths run statements straight on sqlite3 connections (no SQLAlchemy
execution per call), yet the statements stay the ones store/ defines: compiled for
the sqlite dialect, with the dialect's own conversions of values on the way in
(datetimes as stored text, booleans as 0/1) and of columns on the way out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.dialects import sqlite
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import Select

DIALECT = sqlite.dialect()
Convert = Callable[[Any], Any]
# A parameter the statement carries itself (a literal such as "apple"), not one to be given.
_GIVEN = object()


@dataclass(frozen=True)
class SqliteStatement:
    """SQL text with its parameters in order, how to convert them, and its columns."""

    sql: str
    # Per `?`: the parameter's name, its own value (or _GIVEN) and the dialect's conversion.
    params: tuple[tuple[str, Any, Convert | None], ...]
    # Per selected column: its name and the dialect's conversion of what sqlite3 returns.
    columns: tuple[tuple[str, Convert | None], ...]

    @classmethod
    def of(cls, clause: ClauseElement) -> SqliteStatement:
        compiled = clause.compile(dialect=DIALECT)
        assert isinstance(compiled, SQLCompiler)
        params = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            value = _GIVEN if bind.required else bind.effective_value
            convert = bind.type.dialect_impl(DIALECT).bind_processor(DIALECT)
            params.append((name, value, convert))
        columns: list[tuple[str, Convert | None]] = []
        if isinstance(clause, Select):
            for name, column in clause.selected_columns.items():
                convert = column.type.dialect_impl(DIALECT).result_processor(DIALECT, None)
                columns.append((name, convert))
        return cls(compiled.string, tuple(params), tuple(columns))

    def args(self, given: Mapping[str, Any]) -> list[Any]:
        """Positional arguments for sqlite3; a missing parameter is a KeyError, not NULL."""
        found = []
        for name, value, convert in self.params:
            if value is _GIVEN:
                value = given[name]
            found.append(value if convert is None or value is None else convert(value))
        return found

    def row(self, values: Sequence[Any]) -> dict[str, Any]:
        """A result row by column name, converted as SQLAlchemy would."""
        return {
            name: value if convert is None or value is None else convert(value)
            for (name, convert), value in zip(self.columns, values, strict=True)
        }
