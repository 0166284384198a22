"""The console's forms, read from `application/x-www-form-urlencoded` bodies with the standard
library (every console form is one: no file uploads), with their CSRF token checked."""

from __future__ import annotations

import enum
import hmac
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, TypeVar
from urllib.parse import parse_qsl

from fastapi import Depends, HTTPException, Request, status

from switchboard.console.deps import AdminDep, UserDep

MAX_FORM_BYTES = 64 * 1024
_Choice = TypeVar("_Choice", bound=enum.StrEnum)
CSRF_FIELD = "csrf_token"


class FormError(ValueError):
    """A field a person filled in wrongly: shown beside the form, which is shown again."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a form (the last value of a repeated name)."""
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "Send a form.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "Form too large.")
    return dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))


def check_csrf(form: Mapping[str, str], expected: str | None) -> None:
    """403 unless the form carries the token expected (compared in constant time)."""
    given = form.get(CSRF_FIELD, "")
    if not expected or not given or not hmac.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "The form's security token is missing or stale: reload the page and try again.",
        )


async def admin_form(request: Request, admin: AdminDep) -> dict[str, str]:
    """A form an admin sent, its CSRF token checked against their session."""
    form = await read_form(request)
    check_csrf(form, admin.csrf)
    return form


async def user_form(request: Request, user: UserDep) -> dict[str, str]:
    """A form a signed-in user sent, its CSRF token checked against their session."""
    form = await read_form(request)
    check_csrf(form, user.csrf)
    return form


AdminFormDep = Annotated[dict[str, str], Depends(admin_form)]
UserFormDep = Annotated[dict[str, str], Depends(user_form)]


def text(form: Mapping[str, str], name: str, *, required: bool = False) -> str | None:
    value = form.get(name, "").strip()
    if not value:
        if required:
            raise FormError(name, "is required")
        return None
    return value


def required_text(form: Mapping[str, str], name: str) -> str:
    value = text(form, name, required=True)
    assert value is not None
    return value


def decimal(form: Mapping[str, str], name: str) -> Decimal | None:
    value = text(form, name)
    if value is None:
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise FormError(name, "is not a number") from None
    if not number.is_finite() or number < 0:
        raise FormError(name, "must be a number of zero or more")
    return number


def decimal_text(value: Decimal | None) -> str:
    """A stored amount as its form field shows it: 2500, not 2500.0000 nor 2.5E+3."""
    return "" if value is None else format(value.normalize(), "f")


def integer(form: Mapping[str, str], name: str) -> int | None:
    value = text(form, name)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise FormError(name, "is not a whole number") from None


def flag(form: Mapping[str, str], name: str) -> bool:
    """A checkbox: present when ticked."""
    return form.get(name) in {"on", "true", "1"}


def query_choice(value: str, kind: type[_Choice], name: str) -> _Choice | None:
    """A filter of a page's address from a closed vocabulary; empty (a form's "Any") is None."""
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: unknown") from None


def query_int(value: str, name: str) -> int | None:
    """A row id filter of a page's address; empty is None."""
    if not value:
        return None
    if not value.isdigit():
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: not a row id")
    return int(value)


def query_date(value: str, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{name}: not a date") from None
