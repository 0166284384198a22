"""A property-based fuzz of the admin and BYOK APIs against the app's own OpenAPI document
(schemathesis): whatever a schema-valid or schema-invalid request holds, no 5xx, and every
answer matches the schema it is documented with."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_schema_conformance,
)
from sqlalchemy.orm import Session

from switchboard.api.app import create_app
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.settings import Settings
from switchboard.vocabulary import Tier

# The document does not depend on settings or data: build it once, at collection.
SCHEMA = schemathesis.openapi.from_dict(create_app(Settings(_env_file=None)).openapi())
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
]
FUZZ = settings(
    max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), database=None
)


def send(client: TestClient, case: Any, headers: dict[str, str]) -> None:
    kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    kwargs.pop("cookies", None)  # none are used; httpx deprecates per-request cookies
    if "data" in kwargs and isinstance(kwargs["data"], str | bytes):
        kwargs["content"] = kwargs.pop("data")  # raw bodies, as httpx wants them
    response = client.request(**kwargs)
    if refuses_the_period(response) or refuses_the_address(response):
        # since after until, or more than 366 days: each valid alone, which a schema cannot
        # forbid together; the answer is a 422 naming `since`, not an empty or shortened period
        # (or a time zone the service cannot use: a 422 naming `tz`).
        # A provider URL pointing where PROVIDER_ADDRESSES refuses (`http://0`): a 422 naming
        # `base_url`; the schema cannot say which addresses a setting allows.
        case.validate_response(response, checks=CHECKS, excluded_checks=[positive_data_acceptance])
        return
    case.validate_response(response, checks=CHECKS)


def refuses_the_period(response: Any) -> bool:
    if response.status_code != 422 or "/usage" not in str(response.request.url):
        return False
    errors = response.json()["detail"]
    refused = [(e["loc"], e["type"]) for e in errors]
    # A `tz` that is no IANA zone, or one whose offset is not whole hours over the period:
    # the schema can only say it is a string of at most 64 characters.
    return refused in ([(["query", "since"], "value_error")], [(["query", "tz"], "value_error")])


def refuses_the_address(response: Any) -> bool:
    """A provider's `base_url` or a webhook's `url` that the address policy refuses."""
    url = str(response.request.url)
    field = "base_url" if "/providers" in url else "url" if "/alerts/webhooks" in url else None
    if response.status_code != 422 or field is None:
        return False
    errors = response.json()["detail"]
    return [(e["loc"], e["type"]) for e in errors] == [(["body", field], "value_error")] and (
        "PROVIDER_ADDRESSES=" in errors[0]["msg"]
    )


@SCHEMA.include(path_regex="^/api/v1/admin/").parametrize()
@FUZZ
def test_admin_api(case: Any, client: TestClient, admin_headers: dict[str, str]) -> None:
    send(client, case, admin_headers)


@pytest.fixture
def user_headers(db: Session) -> dict[str, str]:
    create_user(db, user_id="fuzz-user", tier=Tier.STARTER)
    return {"Authorization": f"Bearer {issue_virtual_key(db, user_id='fuzz-user').key}"}


@SCHEMA.include(path_regex="^/api/v1/llm/byok/").parametrize()
@FUZZ
def test_byok_api(case: Any, client: TestClient, user_headers: dict[str, str]) -> None:
    send(client, case, user_headers)
