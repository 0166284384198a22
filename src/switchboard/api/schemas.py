"""The schema vocabulary of the admin and BYOK APIs (Pydantic v2): ids, pages, names, times,
amounts of money, key shapes and examples, written once for every resource's schemas.

A resource's own schemas (`admin/schemas_*`, `byok/schemas`) are built from these: an id in a
path is a `RowIdPath`, a listing takes `PagingDep` and answers a `Page`, a budget is `Dollars`,
a cost `CostUsd`. Their JSON Schema is what the OpenAPI document shows and the fuzz tests hold
the answers to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Generic, Literal, Self, TypeVar

from fastapi import Depends, Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
)

from switchboard.providers.registry import API_FORMATS
from switchboard.services import paging
from switchboard.services.user_rules import (
    MAX_BUDGET_USD,
    NAME_MAX_LENGTH,
    USER_ID_MAX_LENGTH,
)

# The rules the command line and the Python API are held to as well: re-exported, not copied.
from switchboard.services.user_rules import TEXT_PATTERN as TEXT_PATTERN
from switchboard.services.user_rules import USER_ID_PATTERN as USER_ID_PATTERN

T = TypeVar("T")

# Ids -------------------------------------------------------------------------------------

MAX_ID = 2**31 - 1
"""The largest row id (a 32-bit INTEGER column): bigger ids do not exist, and are refused."""


def json_integer(value: object) -> object:
    """A JSON integer (`5`, or `5.0`, which JSON Schema counts as one); not text or a bool."""
    if isinstance(value, bool | str | bytes):
        raise ValueError("must be an integer")
    return value


RowId = Annotated[int, Field(ge=1, le=MAX_ID)]
Positive = Annotated[int, Field(ge=1, le=MAX_ID), BeforeValidator(json_integer)]
Count = Annotated[int, Field(ge=0, le=MAX_ID), BeforeValidator(json_integer)]
RowIdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="The row's `id`.")]
RowIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
UserIdPath = Annotated[str, Path(max_length=USER_ID_MAX_LENGTH, pattern=USER_ID_PATTERN)]

# Pages -----------------------------------------------------------------------------------

Limit = Annotated[int, Query(ge=1, le=500, description="Rows per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="Rows to skip.")]


def window_of(limit: Limit = 50, offset: Offset = 0) -> paging.Window:
    return paging.Window(limit=limit, offset=offset)


PagingDep = Annotated[paging.Window, Depends(window_of)]
"""A listing's `limit` and `offset` query parameters, as the services take them."""


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int = Field(description="How many rows match the filters, over all pages.")
    limit: int
    offset: int

    @classmethod
    def of(cls, page: paging.Page[Any], public: Callable[[Any], T], window: paging.Window) -> Self:
        """The answer for a service's `page`, each row shown as `public` shows it."""
        items = [public(row) for row in page.items]
        return cls(items=items, total=page.total, limit=window.limit, offset=window.offset)


# Text, names and keys --------------------------------------------------------------------

KEY_PATTERN = r"^[!-~]+$"
"""Printable ASCII without spaces: what every provider's keys are made of."""

Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH, pattern=TEXT_PATTERN)]


def _true_or_false(value: object) -> object:
    if isinstance(value, str) and value.lower() not in ("true", "false"):
        raise ValueError("must be true or false")
    return value


QueryBool = Annotated[bool, BeforeValidator(_true_or_false)]


def not_null(value: object) -> object:
    """For a field an update may leave out, but not set to null (a column that is never
    empty); such a field is documented without null (`SkipJsonSchema[None]`)."""
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


if TYPE_CHECKING:
    ApiFormat = str
else:  # the registry's formats, as a Literal: validated, and listed in the document as an enum
    ApiFormat = Literal[API_FORMATS]

# Times -----------------------------------------------------------------------------------

_DATE_TIME_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}")
_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


def _date_time_input(value: object) -> object:
    """ISO 8601 text with a time of day; not the numbers (Unix seconds) or bare dates that
    Pydantic would also take, which the documented `date-time` format does not allow."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_TIME_START.match(value):
        raise ValueError("must be an ISO 8601 date and time, such as 2025-01-31T12:00:00Z")
    return value


def as_utc(value: datetime) -> datetime:
    """The same moment in UTC; a time without a zone is taken to be UTC. A moment that UTC
    cannot hold (year 1 or 9999 with an offset that crosses the edge) becomes the edge."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if value.year == _EARLIEST.year else _LATEST


DateTime = Annotated[datetime, BeforeValidator(_date_time_input)]
UtcDateTime = Annotated[datetime, BeforeValidator(_date_time_input), AfterValidator(as_utc)]
"""A `DateTime` taken as the same moment in UTC (`as_utc`)."""


# Money -----------------------------------------------------------------------------------


def decimal_text(value: Decimal) -> str:
    """A decimal as plain text without padding zeros: `25.50` is `"25.5"`."""
    return format(value.normalize(), "f")


AS_DECIMAL_TEXT = PlainSerializer(decimal_text, return_type=str, when_used="json")


def number_or_text(maximum: object, text_pattern: str, description: str) -> WithJsonSchema:
    """The documented input of an amount: a JSON number, or a plain decimal string."""
    return WithJsonSchema(
        {
            "anyOf": [
                {"type": "number", "minimum": 0, "maximum": maximum},
                {"type": "string", "pattern": text_pattern},
            ],
            "description": description,
        },
        mode="validation",
    )


def amount_input(value: object, text_pattern: str, hint: str) -> object:
    """A number (not a bool), or text that is a plain decimal (no exponent, no sign)."""
    if isinstance(value, bool):
        raise ValueError("must be a number of dollars")
    if isinstance(value, str) and not re.fullmatch(text_pattern, value):
        raise ValueError(hint)
    return value


_DOLLARS_TEXT = r"^[0-9]{1,9}(\.[0-9]{1,20})?$"

Dollars = Annotated[
    Decimal,
    BeforeValidator(
        lambda value: amount_input(
            value, _DOLLARS_TEXT, 'must be a number of dollars, such as 25 or "25.50"'
        )
    ),
    Field(ge=0, le=MAX_BUDGET_USD, allow_inf_nan=False),
    number_or_text(
        MAX_BUDGET_USD,
        _DOLLARS_TEXT,
        "US dollars, up to 1,000,000,000; stored to 10 decimal places.",
    ),
    AS_DECIMAL_TEXT,
]
"""An amount of US dollars a client sends (a budget), answered as `DollarsOut` is."""

DollarsOut = Annotated[Decimal, AS_DECIMAL_TEXT]
"""An amount of US dollars as answered: a decimal string without padding zeros (`"25.5"`)."""

CostUsd = Annotated[
    Decimal,
    PlainSerializer(lambda value: format(value, "f"), return_type=str, when_used="json"),
    WithJsonSchema(
        {"type": "string", "pattern": r"^-?\d+\.\d{10}$", "examples": ["0.0214500000"]},
        mode="serialization",
    ),
]
"""A cost as stored and summed: a decimal string with ten places (`"0.0214500000"`), exact."""

# Examples --------------------------------------------------------------------------------


def with_examples(*examples: dict[str, Any], keywords: dict[str, Any] | None = None) -> ConfigDict:
    """A model's configuration that documents `examples` (and other JSON Schema `keywords`,
    such as `oneOf`); merge it with other settings by `|`."""
    return ConfigDict(json_schema_extra={"examples": list(examples), **(keywords or {})})
