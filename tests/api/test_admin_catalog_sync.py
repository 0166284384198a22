"""`POST /api/v1/admin/llm/catalog/sync`: the price sync over HTTP, a dry run by default, the
difference as JSON, audited when applied; a map that cannot be read is a 502 naming it."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard.api.app import create_app
from switchboard.models import AuditLogEntry, LLMModel
from switchboard.services.seeding import seed_catalog
from switchboard.settings import Settings
from tests.price_maps import price_map_with

SYNC = "/api/v1/admin/llm/catalog/sync"


def changed_map(tmp_path: Path) -> Path:
    return price_map_with(tmp_path, "gpt-6-luna", "input_cost_per_token", 1.2e-07)


def luna(db: Session) -> LLMModel:
    db.expire_all()
    return db.scalars(select(LLMModel).where(LLMModel.model_id == "gpt-6-luna")).one()


def test_a_dry_run_by_default_then_applied_and_audited(
    db: Session, app_settings: Settings, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    seed_catalog(db)
    settings = app_settings.model_copy(update={"price_map_source": str(changed_map(tmp_path))})
    with TestClient(create_app(settings)) as client:
        answer = client.post(SYNC, headers=admin_headers)
        assert answer.status_code == 200, answer.text
        report = answer.json()
        assert (report["dry_run"], report["applied"], report["changes_to_write"]) == (
            True,
            False,
            1,
        )
        [change] = report["changes"]
        assert change["model_id"] == "gpt-6-luna"
        assert change["changes"] == [
            {"column": "cost_per_1m_input_tokens", "old": "0.1", "new": "0.12"}
        ]
        assert str(luna(db).cost_per_1m_input_tokens) == "0.100000"

        answer = client.post(SYNC, headers=admin_headers, json={"dry_run": False})
        assert answer.status_code == 200, answer.text
        assert answer.json()["applied"] is True
    row = luna(db)
    assert (str(row.cost_per_1m_input_tokens), row.price_source) == ("0.120000", "sync")
    entry = db.scalars(select(AuditLogEntry).where(AuditLogEntry.entity_id == str(row.id))).one()
    assert (entry.actor, entry.action) == ("admin", "update")


def test_a_malformed_map_is_a_502_naming_the_entry(
    db: Session, app_settings: Settings, admin_headers: dict[str, str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"gpt-6-luna": {"litellm_provider": "openai", "max_input_tokens": "many"}}')
    seed_catalog(db)
    settings = app_settings.model_copy(update={"price_map_source": str(path)})
    with TestClient(create_app(settings)) as client:
        answer = client.post(SYNC, headers=admin_headers, json={"dry_run": False})
    assert answer.status_code == 502
    assert "price map entry 'gpt-6-luna': max_input_tokens is 'many'" in answer.json()["detail"]


def test_unknown_fields_are_refused(client: TestClient, admin_headers: dict[str, str]) -> None:
    answer = client.post(SYNC, headers=admin_headers, json={"dry_run": "no", "source": "x"})
    assert answer.status_code == 422
    assert {tuple(e["loc"]) for e in answer.json()["detail"]} == {
        ("body", "dry_run"),
        ("body", "source"),
    }


def test_the_admin_token_is_required(client: TestClient) -> None:
    assert client.post(SYNC).status_code == 401
