"""The spec's "API Usage" curl commands, run as written against a live `switchboard serve`,
with ADMIN_TOKEN in the shell's environment. They name localhost:8084; curl's `--connect-to`
takes them to the gateway's free port instead, so that no other run on this machine (another
checkout's, a parallel worker's) can be holding the port or be answering on it."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.harness import GatewayProcess, running_gateway

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "epic-3.1-quickstart.md"
ADMIN_TOKEN = "sb-admin-spec-curl-0123456789"
SPEC_HOST = "localhost:8084"

LIST_PROVIDERS = """curl -X GET "http://localhost:8084/api/v1/admin/llm/providers" \\
  -H "Authorization: Bearer $ADMIN_TOKEN\""""

CREATE_PROVIDER = """curl -X POST "http://localhost:8084/api/v1/admin/llm/providers" \\
  -H "Authorization: Bearer $ADMIN_TOKEN" \\
  -H "Content-Type: application/json" \\
  -d '{
    "provider_name": "Anthropic",
    "provider_slug": "anthropic",
    "display_name": "Anthropic",
    "base_url": "https://api.anthropic.com/v1",
    "auth_type": "api_key",
    "supports_streaming": true,
    "supports_function_calling": true,
    "is_byok_supported": true,
    "min_tier_required": "starter"
  }'"""

CHECK_HEALTH = """curl -X GET "http://localhost:8084/api/v1/admin/llm/providers/1/health" \\
  -H "Authorization: Bearer $ADMIN_TOKEN\""""


@pytest.fixture(scope="module")
def gateway(
    e2e_database_url: str, tmp_path_factory: pytest.TempPathFactory, encryption_key: str
) -> Iterator[GatewayProcess]:
    env = {"ADMIN_TOKEN": ADMIN_TOKEN, "ENCRYPTION_KEY": encryption_key}
    workdir = tmp_path_factory.mktemp("spec-curl")
    with running_gateway(e2e_database_url, workdir, env) as process:
        yield process


def run_curl(command: str, gateway: GatewayProcess) -> tuple[int, object]:
    """The command as written, in a shell, sent to `gateway`; the status from curl's own -w,
    and the JSON body."""
    to_gateway = f" --connect-to {SPEC_HOST}:127.0.0.1:{gateway.port}"
    completed = subprocess.run(
        ["bash", "-c", command + to_gateway + ' -s -w "\\n%{http_code}"'],
        env={**os.environ, "ADMIN_TOKEN": ADMIN_TOKEN},
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    body, _, status = completed.stdout.rpartition("\n")
    return int(status), json.loads(body)


@pytest.mark.skipif(not SPEC.exists(), reason="the spec is not beside this checkout")
def test_these_are_the_specs_commands_verbatim() -> None:
    text = SPEC.read_text()
    for command in (LIST_PROVIDERS, CREATE_PROVIDER, CHECK_HEALTH):
        assert command in text


def test_the_specs_curl_commands_work_as_written(gateway: GatewayProcess) -> None:
    status, listing = run_curl(LIST_PROVIDERS, gateway)
    assert status == 200
    assert isinstance(listing, dict)
    assert listing["total"] == 0

    status, created = run_curl(CREATE_PROVIDER, gateway)
    assert status == 201, created
    assert isinstance(created, dict)
    assert (created["id"], created["provider_slug"], created["auth_type"]) == (
        1,
        "anthropic",
        "api_key",
    )
    assert created["min_tier_required"] == "starter"
    assert created["is_byok_supported"] is True

    status, listing = run_curl(LIST_PROVIDERS, gateway)
    assert status == 200
    assert isinstance(listing, dict)
    assert [item["provider_slug"] for item in listing["items"]] == ["anthropic"]

    # No key is stored for it, so it is not probed (no call leaves this machine).
    status, health = run_curl(CHECK_HEALTH, gateway)
    assert status == 200, health
    assert isinstance(health, dict)
    assert health["health_status"] == "unknown"
