"""The flow the console's forms share: call a service with what the form says, then either go
on to the next page with a notice, or show the form again with each refusal beside the field it
concerns (nothing stored); and the confirmation step a destructive action takes first."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar

from fastapi import Request, Response, status
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from switchboard.console.forms import CSRF_FIELD, FormError
from switchboard.console.rendering import render, see_other, with_notice
from switchboard.errors import ConfigurationError, ConflictError, InvalidFieldError, NotFoundError

REFUSED = (FormError, InvalidFieldError, ConflictError, NotFoundError, ConfigurationError)
"""What a form can be refused with: shown on the form, never as an error page."""
FORM_WIDE = ""
"""The key of a refusal that concerns the whole form rather than one field."""
CONFIRMED_FIELD = "confirmed"

_Result = TypeVar("_Result")
FieldErrors = dict[str, str]
Refused = Callable[[FieldErrors], Response]
"""Shows the form again (status 422) with these errors beside their fields."""


def why(error: Exception) -> str:
    """The message without the field's name, which the page shows beside the field."""
    message = getattr(error, "message", None) or str(error)
    field = getattr(error, "field", None)
    prefix = f"{field}: "
    return message[len(prefix) :] if field and message.startswith(prefix) else message


def field_errors(error: Exception, *, default_field: str = FORM_WIDE) -> FieldErrors:
    """`{field: why}`: an error that names no field goes under `default_field`."""
    return {getattr(error, "field", None) or default_field: why(error)}


def shown(form: Mapping[str, Any], *, write_only: Collection[str] = ()) -> dict[str, Any]:
    """What a form is shown again with: never its CSRF token nor a write-only field (a secret)."""
    return {k: v for k, v in form.items() if k != CSRF_FIELD and k not in write_only}


def submit(
    session: Session,
    change: Callable[[], _Result],
    *,
    done: Callable[[_Result], tuple[str, str]],
    refused: Refused,
    default_field: str | Callable[[Exception], str] = FORM_WIDE,
) -> Response:
    """Run `change` (which parses the form and calls a service, which commits). Refused: roll
    back and show the form again with the errors; done: redirect to `done(result)`, a page and
    its notice."""
    try:
        result = change()
    except REFUSED as error:
        session.rollback()
        fallback = default_field(error) if callable(default_field) else default_field
        return refused(field_errors(error, default_field=fallback))
    url, notice = done(result)
    return see_other(with_notice(url, notice))


def form_page(
    request: Request,
    template: str,
    context: Mapping[str, Any],
    errors: FieldErrors | None = None,
    *,
    status_code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    """A page with a form: refused (`errors`), status 422 and each error beside its field."""
    return render(
        request,
        template,
        {**context, "errors": errors or {}},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if errors else status_code,
    )


def confirmed(form: Mapping[str, str]) -> bool:
    return form.get(CONFIRMED_FIELD) == "yes"


def ask_to_confirm(
    request: Request,
    form: Mapping[str, str],
    *,
    question: str,
    consequence: str,
    button: str,
    cancel: str,
) -> HTMLResponse:
    """The confirmation step of a destructive action: the same form posted again, its fields
    kept, with `confirmed=yes`. Works without JavaScript; with htmx it is just the next page."""
    return render(
        request,
        "confirm.html",
        {
            "title": question,
            "question": question,
            "consequence": consequence,
            "button": button,
            "cancel": cancel,
            "action": request.url.path,
            "fields": shown(form),
        },
    )
