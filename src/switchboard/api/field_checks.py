"""Declared checks of a request body's fields, shared by the API surfaces.

Each surface states its fields as a table, name → check (`openai.validation`,
`anthropic.validation`), and words the answer in its own API's way. A check returns what is
wrong with a value, or None. Booleans are not numbers here, though Python counts them as
integers: `temperature: true` is refused, not read as 1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], str | None]

MAX_TOKENS_VALUE = 2**31 - 1
"""The largest token count a request may name (a 32-bit integer, what providers' APIs and the
catalog's columns hold): a larger one is refused here rather than routed. Below it, a count
over every model's limit is routing's to answer (`routing.limits`)."""


def integer(minimum: int, maximum: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if value < minimum:
            return f"must be at least {minimum}"
        return None if maximum is None or value <= maximum else f"must be at most {maximum}"

    return check


def number(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        return None if low <= value <= high else f"must be between {low:g} and {high:g}"

    return check


def kind(*types: type, name: str) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) and bool not in types:
            return f"must be {name}"
        return None if isinstance(value, types) else f"must be {name}"

    return check


def strings(value: Any) -> str | None:
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return None
    return "must be a list of strings"


def non_empty_strings(value: Any) -> str | None:
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return None
    return "must be a non-empty list of strings"


def typed_blocks(value: Any) -> bool:
    """A list of objects that each say their `type` (content parts, content blocks)."""
    return isinstance(value, list) and all(
        isinstance(block, dict) and isinstance(block.get("type"), str) for block in value
    )


def first_problem(body: Mapping[str, Any], fields: Mapping[str, Check]) -> tuple[str, str] | None:
    """The first field of `fields` present in `body` (and not null) whose value is wrong, and
    what is wrong with it."""
    for name, check in fields.items():
        value = body.get(name)
        if value is None:
            continue
        problem = check(value)
        if problem:
            return name, problem
    return None
