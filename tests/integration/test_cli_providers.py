"""`switchboard providers …` and `switchboard models deprecate`, in-process, on a real database."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import AuditLogEntry, LLMModel, LLMProvider
from switchboard.secrets import SecretManager
from tests.fake_upstream import closed_port_url, running_fake_upstream
from tests.integration.cli_runner import invoke

KEY = "sk-cli-0123456789abcdefWXYZ"


@pytest.fixture
def cli_env(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("COLUMNS", "200")
    assert invoke("db", "upgrade")[0] == 0
    return database_url


def test_add_and_list_providers_with_a_masked_key(
    cli_env: str, session_factory: sessionmaker[Session], clean_environment: str
) -> None:
    url = "https://api.openai.com/v1/"
    add = ("providers", "add", "openai", "--name", "OpenAI", "--base-url", url, "--byok")
    code, out = invoke(*add, "--api-key", KEY)
    assert code == 0, out
    assert "added provider 1 openai, key sk-cl…WXYZ" in out and KEY not in out
    assert invoke("providers", "add", "local", "--auth-type", "none", "--inactive")[0] == 0
    code, out = invoke("providers", "add", "openai")
    assert code == 1 and "already exists" in out
    code, out = invoke("providers", "add", "x", "--min-tier", "gold")
    assert code == 2 and "gold" in out

    code, out = invoke("providers", "list")
    assert code == 0 and "openai" in out and "local" in out and "sk-cl…WXYZ" in out
    assert KEY not in out
    code, out = invoke("providers", "list", "--inactive")
    assert "local" in out and "openai" not in out

    with session_factory() as session:
        provider = session.scalars(select(LLMProvider).where(LLMProvider.id == 1)).one()
        assert provider.base_url == "https://api.openai.com/v1" and provider.is_byok_supported
        assert provider.encrypted_api_key is not None
        secrets = SecretManager.from_value(clean_environment)
        assert secrets.decrypt_secret(provider.encrypted_api_key) == KEY
        audit = session.scalars(select(AuditLogEntry)).all()
    assert [(e.actor, e.action, e.entity_type) for e in audit] == [
        ("cli", "create", "provider"),
        ("cli", "create", "provider"),
    ]
    assert KEY not in repr([(e.before, e.after) for e in audit])


def test_health_probes_one_or_every_active_provider(cli_env: str) -> None:
    with running_fake_upstream() as upstream:
        invoke("providers", "add", "fake", "--base-url", upstream.base_url, "--api-key", KEY)
        code, out = invoke("providers", "health", "fake")
        assert code == 0, out
        assert "healthy" in out and "fake" in out
        assert upstream.received()[-1].authorization == f"Bearer {KEY}"

        url = closed_port_url()
        invoke("providers", "add", "gone", "--base-url", url, "--auth-type", "none")
        code, out = invoke("providers", "health")
        assert code == 1  # a provider is down
        assert "healthy" in out and "down" in out and "connection" in out
        code, out = invoke("providers", "list")
        assert "healthy" in out and "down" in out
    code, out = invoke("providers", "health", "nope")
    assert code == 1 and "provider 'nope' does not exist" in out


def test_deprecate_a_model_by_name(cli_env: str, session_factory: sessionmaker[Session]) -> None:
    invoke("providers", "add", "openai", "--auth-type", "none")
    invoke("providers", "add", "azure", "--auth-type", "none")
    with session_factory() as session:
        for provider_id, model_id in ((1, "gpt-4"), (1, "gpt-4o"), (2, "gpt-4o")):
            session.add(LLMModel(provider_id=provider_id, model_id=model_id, model_name=model_id))
        session.commit()

    code, out = invoke("models", "deprecate", "gpt-4", "--replacement", "gpt-4o")
    assert code == 1 and "say `provider/gpt-4o`" in out
    code, out = invoke("models", "deprecate", "gpt-4", "--replacement", "nope")
    assert code == 1 and "model 'nope' does not exist" in out
    code, out = invoke(
        "models", "deprecate", "gpt-4", "--replacement", "openai/gpt-4o", "--date", "2025-10-23"
    )
    assert code == 0, out
    assert "deprecated gpt-4; served by gpt-4o" in out
    code, out = invoke("models", "deprecate", "3", "--replacement", "1")
    assert code == 1 and "is itself deprecated" in out
    with session_factory() as session:
        old = session.get(LLMModel, 1)
    assert old is not None and old.is_deprecated and not old.is_active
    assert old.replacement_model_id == 2
    assert old.deprecation_date is not None and old.deprecation_date.year == 2025


@pytest.mark.parametrize("url", ["http://169.254.169.254/", "http://2852039166/"])
def test_add_refuses_a_url_the_address_policy_refuses(
    cli_env: str, session_factory: sessionmaker[Session], url: str
) -> None:
    code, out = invoke("providers", "add", "meta", "--base-url", url, "--auth-type", "none")
    assert code == 1
    assert "base_url: host" in out and "a cloud metadata address" in out
    assert "PROVIDER_ADDRESSES=private" in out
    with session_factory() as session:
        assert session.scalars(select(LLMProvider)).all() == []


def test_under_public_add_and_health_refuse_loopback(
    cli_env: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_fake_upstream() as upstream:
        local_url = upstream.base_url.replace("127.0.0.1", "localhost")
        assert (
            invoke("providers", "add", "local", "--base-url", local_url, "--api-key", KEY)[0] == 0
        )
        monkeypatch.setenv("PROVIDER_ADDRESSES", "public")
        code, out = invoke("providers", "add", "other", "--base-url", local_url)
        assert code == 1 and "resolves to 127.0.0.1, a loopback address" in out

        code, out = invoke("providers", "health", "local")
        assert code == 1 and "down" in out
        assert upstream.received() == []
    with session_factory() as session:
        error = session.scalars(select(LLMProvider.health_error)).one()
    assert error is not None and error.startswith("connection_error: local: Cannot connect")
    assert "which PROVIDER_ADDRESSES=public refuses" in error
