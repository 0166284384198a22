"""Listings, one way for every service: the rows of a table whose columns equal the filters
given, one `Window` of them in a stable order, and how many there are in all (`Page`).

A service declares what a listing filters by once, as a TypedDict of column names (None: any)
that its function takes as keyword arguments (`**filters: Unpack[ModelFilters]`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from switchboard.models import Base

T = TypeVar("T")
R = TypeVar("R", bound=Base)


@dataclass(frozen=True, slots=True)
class Window:
    """Which rows of a listing to return: `limit` of them, after skipping `offset`."""

    limit: int = 50
    offset: int = 0


FIRST_PAGE = Window()
"""The first 50 rows: what a listing returns unless asked for others."""


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing, and how many rows the whole listing has."""

    items: Sequence[T]
    total: int


def page_of(
    session: Session,
    query: Select[T],
    *order_by: ColumnElement[Any] | InstrumentedAttribute[Any],
    window: Window,
) -> Page[T]:
    """The `window` of what `query` selects, in `order_by`; and how many rows it selects."""
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    ordered = query.order_by(*order_by).limit(window.limit).offset(window.offset)
    return Page(items=session.scalars(ordered).all(), total=total)


def rows_where(table: type[R], filters: Mapping[str, object]) -> Select[R]:
    """The rows of `table` whose columns (by name) equal the values given (None: any)."""
    equal = (getattr(table, name) == value for name, value in filters.items() if value is not None)
    return select(table).where(*equal)


def containing(text: str, *columns: InstrumentedAttribute[Any]) -> ColumnElement[bool]:
    """Rows where any of `columns` contains `text`, ignoring case (`%` and `_` in it match
    themselves): what a listing's search box asks."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return or_(*(column.ilike(f"%{escaped}%", escape="\\") for column in columns))
