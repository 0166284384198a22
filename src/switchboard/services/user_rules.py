"""What a user's fields may hold: one set of rules, however a user is made or changed.

The admin API's schemas declare these rules (JSON Schema constraints, answered with a 422 that
names the field); `services.users` checks them for every caller, so the command line and the
Python API cannot store a user the API would refuse. A user id starts with a letter or digit:
it never reads as a formula in a spreadsheet (`=…`, `+…`, `-…`, `@…`) or as an option on a
command line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from switchboard.errors import InvalidFieldError

USER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@:+\-]*$"
USER_ID_MAX_LENGTH = 255
NAME_MAX_LENGTH = 200
EMAIL_PATTERN = r"^[!-?A-~]+@[!-?A-~]+\.[!-?A-~]+$"
"""Printable ASCII, one `@`, a dot after it: a sanity check, not RFC 5322."""
EMAIL_MAX_LENGTH = 320
TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
"""Free text: anything but control characters (which PostgreSQL may refuse, e.g. NUL)."""
MAX_BUDGET_USD = Decimal(10**9)


def check_user_fields(values: Mapping[str, object]) -> None:
    """InvalidFieldError for the first of `values` (by column name: `id`, `display_name`,
    `email`, `monthly_budget_usd`) that breaks its rule; None values and other names pass."""
    for name, value in values.items():
        check = _CHECKS.get(name)
        if check is not None and value is not None:
            check(value)


def _check_id(value: object) -> None:
    if not _matches(value, USER_ID_PATTERN, USER_ID_MAX_LENGTH):
        raise InvalidFieldError(
            "id",
            f"user id {value!r} is not allowed: use 1 to {USER_ID_MAX_LENGTH} letters, digits "
            "and `._@:+-`, starting with a letter or digit",
        )


def _check_name(value: object) -> None:
    if not _matches(value, TEXT_PATTERN, NAME_MAX_LENGTH) or value == "":
        raise InvalidFieldError(
            "display_name",
            f"display name {value!r} is not allowed: use 1 to {NAME_MAX_LENGTH} characters, "
            "no control characters",
        )


def _check_email(value: object) -> None:
    if not _matches(value, EMAIL_PATTERN, EMAIL_MAX_LENGTH):
        raise InvalidFieldError("email", f"email {value!r} is not an email address")


def _check_budget(value: object) -> None:
    numeric = isinstance(value, Decimal | int | float) and not isinstance(value, bool)
    amount = Decimal(str(value)) if numeric else None
    if amount is None or not amount.is_finite() or not 0 <= amount <= MAX_BUDGET_USD:
        raise InvalidFieldError(
            "monthly_budget_usd",
            f"budget {value} must be an amount in dollars from 0 to {MAX_BUDGET_USD:,}",
        )


def _matches(value: object, pattern: str, max_length: int) -> bool:
    if not isinstance(value, str) or len(value) > max_length:
        return False
    return re.fullmatch(pattern, value) is not None


_CHECKS = {
    "id": _check_id,
    "display_name": _check_name,
    "email": _check_email,
    "monthly_budget_usd": _check_budget,
}
