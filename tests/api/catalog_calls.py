"""Making catalog rows through the admin API, for the admin API's tests."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

ADMIN = "/api/v1/admin/llm"

# The spec's "Create Provider" body, verbatim (epic-3.1-quickstart.md, "API Usage").
SPEC_PROVIDER = {
    "provider_name": "Anthropic",
    "provider_slug": "anthropic",
    "display_name": "Anthropic",
    "base_url": "https://api.anthropic.com/v1",
    "auth_type": "api_key",
    "supports_streaming": True,
    "supports_function_calling": True,
    "is_byok_supported": True,
    "min_tier_required": "starter",
}


def add_provider(
    client: TestClient, headers: dict[str, str], slug: str, **fields: Any
) -> dict[str, Any]:
    body = {"provider_name": slug.title(), "provider_slug": slug, **fields}
    response = client.post(f"{ADMIN}/providers", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def add_mock_provider(
    client: TestClient, headers: dict[str, str], slug: str = "mock", **fields: Any
) -> dict[str, Any]:
    """A provider served by the built-in mock adapter: no network, no key."""
    fields = {"api_format": "mock", "auth_type": "none", **fields}
    return add_provider(client, headers, slug, **fields)


def add_model(
    client: TestClient, headers: dict[str, str], provider_id: int, model_id: str, **fields: Any
) -> dict[str, Any]:
    body = {"provider_id": provider_id, "model_id": model_id, "model_name": model_id, **fields}
    response = client.post(f"{ADMIN}/models", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def add_rule(
    client: TestClient, headers: dict[str, str], model_row_id: int, **fields: Any
) -> dict[str, Any]:
    body = {"model_id": model_row_id, "power_level": "balanced", **fields}
    response = client.post(f"{ADMIN}/routing/rules", headers=headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def provider_health(
    client: TestClient, headers: dict[str, str], provider_id: int
) -> dict[str, Any]:
    """A provider's health, probed now."""
    response = client.get(f"{ADMIN}/providers/{provider_id}/health", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def field_errors(response: Any) -> dict[str, str]:
    """A 422's messages by field name (the last part of each `loc`)."""
    assert response.status_code == 422, response.text
    return {str(error["loc"][-1]): error["msg"] for error in response.json()["detail"]}
