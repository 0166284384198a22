"""The price sync against the trimmed copy of LiteLLM's map in the test data, on a freshly
seeded catalog: a dry run writes nothing, applying changes prices through the price history,
a price set by hand survives unless forced, a malformed map changes nothing, and the same
sync twice writes nothing the second time."""

from __future__ import annotations

import copy
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.engine import LLMRoutingEngine
from switchboard.errors import PriceMapError
from switchboard.models import (
    AuditLogEntry,
    LLMModel,
    LLMModelPriceHistory,
    LLMProvider,
    LLMUsageLog,
)
from switchboard.services.catalog_admin import update_model
from switchboard.services.price_map import PriceMap, load_price_map, parse_price_map
from switchboard.services.price_sync import MANUAL_SKIPPED, SyncReport, sync_catalog
from switchboard.services.seeding import seed_catalog
from switchboard.vocabulary import PriceSource
from tests.price_maps import PRICE_MAP

PROVIDERS = ("openai", "anthropic", "gemini", "groq", "mistral", "deepseek")
TODAY = date(2026, 12, 5)


def fixture() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(PRICE_MAP.read_text("utf-8"))
    return loaded


def as_map(document: dict[str, Any]) -> PriceMap:
    text = json.dumps(document)
    return load_price_map(text, source="test map", providers=PROVIDERS)


def sync(db: Session, document: dict[str, Any], **options: Any) -> SyncReport:
    return sync_catalog(
        db, as_map(document), source="test map", actor="admin", today=TODAY, **options
    )


def model(db: Session, model_id: str) -> LLMModel:
    return db.scalars(select(LLMModel).where(LLMModel.model_id == model_id)).one()


def counts(db: Session) -> tuple[int, int]:
    """(price periods, audit entries)."""
    return (
        db.scalar(select(func.count()).select_from(LLMModelPriceHistory)) or 0,
        db.scalar(select(func.count()).select_from(AuditLogEntry)) or 0,
    )


@pytest.fixture
def seeded(db: Session) -> Session:
    seed_catalog(db)
    return db


def test_a_fresh_seed_is_in_line_with_the_map_it_came_from(seeded: Session) -> None:
    report = sync(seeded, fixture())
    assert report.changes == ()
    assert report.deprecations == ()
    assert report.missing == ()  # the retired models are seeded deprecated
    assert report.to_write == 0
    assert report.providers == PROVIDERS_BY_SLUG
    assert {(ref.provider, ref.model_id) for ref in report.new_models} >= {
        ("openai", "gpt-5.4-mini"),
        ("anthropic", "claude-sonnet-4-6"),
        ("mistral", "mistral-large-3"),
        ("groq", "qwen/qwen3.8-27b"),
    }
    # Only chat models, not deprecated, not fine-tunes.
    assert ("openai", "text-embedding-3-small") not in {
        (ref.provider, ref.model_id) for ref in report.new_models
    }
    aliases = [warning for warning in report.warnings if "is an alias" in warning]
    assert len(aliases) == 4  # the Mistral -latest models


PROVIDERS_BY_SLUG = ("anthropic", "deepseek", "gemini", "groq", "mistral", "openai")


def priced(document: dict[str, Any], key: str, **per_token: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed[key].update(per_token)
    return changed


def test_a_dry_run_reports_and_writes_nothing(seeded: Session) -> None:
    before = counts(seeded)
    document = priced(fixture(), "gpt-6-luna", input_cost_per_token=1.5e-07, max_input_tokens=1e6)
    report = sync(seeded, document)
    assert report.applied is False
    [change] = report.changes
    assert (change.provider, change.model_id, change.map_key, change.skipped) == (
        "openai",
        "gpt-6-luna",
        "gpt-6-luna",
        None,
    )
    assert [(c.column, c.old, c.new) for c in change.changes] == [
        ("cost_per_1m_input_tokens", "0.1", "0.15"),
        ("context_window", 922000, 1000000),
    ]
    seeded.expire_all()
    assert model(seeded, "gpt-6-luna").cost_per_1m_input_tokens == Decimal("0.1")
    assert counts(seeded) == before


def test_applying_changes_prices_through_the_history_and_audits_them(seeded: Session) -> None:
    document = priced(
        fixture(),
        "gemini/gemini-3.1-pro-preview",
        input_cost_per_token=2.5e-06,
        input_cost_per_token_above_200k_tokens=5e-06,
    )
    report = sync(seeded, document, apply=True)
    assert report.applied and report.to_write == 1
    seeded.expire_all()
    pro = model(seeded, "gemini-3.1-pro-preview")
    assert pro.cost_per_1m_input_tokens == Decimal("2.5")
    assert pro.price_tiers == [
        {
            "above_tokens": 200000,
            "input_price": "5",
            "output_price": "18",
            "cached_input_price": "0.4",
        }
    ]
    assert pro.price_source == PriceSource.SYNC
    periods = seeded.scalars(
        select(LLMModelPriceHistory)
        .where(LLMModelPriceHistory.model_id == pro.id)
        .order_by(LLMModelPriceHistory.effective_from)
    ).all()
    assert [(p.cost_per_1m_input_tokens, p.effective_to is None) for p in periods] == [
        (Decimal(2), False),  # the seeded price, from the model's creation until now
        (Decimal("2.5"), True),
    ]
    assert periods[0].price_tiers == [  # the tiers it had are kept with its prices
        {
            "above_tokens": 200000,
            "input_price": "4",
            "output_price": "18",
            "cached_input_price": "0.4",
        }
    ]
    entry = seeded.scalars(
        select(AuditLogEntry).where(AuditLogEntry.entity_id == str(pro.id))
    ).one()
    assert (entry.actor, entry.action, entry.entity_type) == ("admin", "update", "model")
    assert entry.before is not None and entry.after is not None
    assert (entry.before["price_source"], entry.after["price_source"]) == ("seed", "sync")


def test_the_same_sync_twice_writes_nothing_the_second_time(seeded: Session) -> None:
    document = priced(fixture(), "claude-haiku-5-5", output_cost_per_token=6e-07)
    assert sync(seeded, document, apply=True).to_write == 1
    before = counts(seeded)
    again = sync(seeded, document, apply=True)
    assert (again.changes, again.deprecations, again.to_write) == ((), (), 0)
    assert counts(seeded) == before


def test_a_price_set_by_hand_survives_unless_forced(seeded: Session) -> None:
    luna = model(seeded, "gpt-6-luna")
    update_model(
        seeded,
        actor="admin",
        model_row_id=luna.id,
        changes={"cost_per_1m_input_tokens": Decimal("0.12")},
    )
    report = sync(seeded, fixture(), apply=True)
    [change] = report.changes
    assert change.skipped == MANUAL_SKIPPED
    assert report.to_write == 0
    seeded.expire_all()
    assert model(seeded, "gpt-6-luna").cost_per_1m_input_tokens == Decimal("0.12")

    forced = sync(seeded, fixture(), apply=True, force=True)
    assert forced.to_write == 1 and forced.changes[0].skipped is None
    seeded.expire_all()
    luna = model(seeded, "gpt-6-luna")
    assert (luna.cost_per_1m_input_tokens, luna.price_source) == (Decimal("0.1"), "sync")


@pytest.mark.parametrize(
    ("key", "field", "value", "message"),
    [
        ("gpt-6-luna", "input_cost_per_token", -1e-07, "not a price >= 0"),
        ("gpt-6-luna", "input_cost_per_token", "cheap", "is 'cheap', not a number"),
        ("gpt-6-luna", "input_cost_per_token", True, "is True, not a number"),
        ("claude-haiku-5-5", "max_input_tokens", "lots", "not a number of tokens"),
        ("gemini/gemini-2.5-pro", "deprecation_date", "next year", "not a date"),
        ("deepseek/deepseek-v4-pro", "supports_vision", "yes", "not true or false"),
        (
            "gemini/gemini-3.1-pro-preview",
            "output_cost_per_token_above_200k_tokens",
            [1],
            "not a number",
        ),
    ],
)
def test_a_malformed_entry_is_named_and_nothing_is_written(
    seeded: Session, key: str, field: str, value: Any, message: str
) -> None:
    # Another entry's change would be written, if anything were.
    document = priced(fixture(), "claude-haiku-5-5", output_cost_per_token=6e-07)
    document[key][field] = value
    before = counts(seeded)
    with pytest.raises(PriceMapError, match=f"price map entry '{key}': {field} .*{message}"):
        sync(seeded, document, apply=True)
    seeded.expire_all()
    assert model(seeded, "claude-haiku-5-5").cost_per_1m_output_tokens == Decimal("0.5")
    assert counts(seeded) == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"{not json", "is not valid JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b'{"gpt-6-luna": 5}', "entry 'gpt-6-luna' is not an object"),
    ],
)
def test_a_map_that_is_not_one_is_refused(text: bytes, message: str) -> None:
    with pytest.raises(PriceMapError, match=message):
        load_price_map(text, source="test map", providers=PROVIDERS)


def test_entries_of_other_providers_are_not_read() -> None:
    document = {"somewhere/model": {"litellm_provider": "somewhere", "input_cost_per_token": "?"}}
    assert parse_price_map(document, providers=PROVIDERS, source="m").models == {}


def test_the_prefixed_entry_wins_over_the_bare_one() -> None:
    """`deepseek-chat` and `deepseek/deepseek-chat` are both DeepSeek's: the prefixed one is
    the provider's own entry (it has a cache-write price; the bare one has not)."""
    found = as_map(fixture()).find("deepseek", "deepseek-chat")
    assert found is not None and found.key == "deepseek/deepseek-chat"
    assert found.prices is not None and found.prices.cache_write_price == Decimal(0)


def test_a_past_deprecation_deprecates_with_the_maps_successor(seeded: Session) -> None:
    document = copy.deepcopy(fixture())
    document["gpt-6.1-terra"]["deprecation_date"] = "2026-12-01"
    document["gpt-6.1-terra"]["successor_model"] = "gpt-6.1-sol"
    report = sync(seeded, document, apply=True)
    [deprecation] = report.deprecations
    assert (deprecation.model_id, deprecation.scheduled, deprecation.replacement) == (
        "gpt-6.1-terra",
        False,
        "openai/gpt-6.1-sol",
    )
    seeded.expire_all()
    terra = model(seeded, "gpt-6.1-terra")
    assert (terra.is_deprecated, terra.is_active) == (True, False)
    assert terra.replacement_model_id == model(seeded, "gpt-6.1-sol").id
    assert terra.deprecation_date == datetime(2026, 12, 1, tzinfo=UTC)
    assert sync(seeded, document).deprecations == ()


def test_without_a_successor_the_model_its_rules_route_to_replaces_it(seeded: Session) -> None:
    document = copy.deepcopy(fixture())
    document["gpt-6-luna"]["deprecation_date"] = "2026-11-30"
    [deprecation] = sync(seeded, document).deprecations
    # Luna's eco rule at priority 10: the next OpenAI model routed at eco, balanced or
    # precision by priority is GPT-6.1 Terra (balanced, 10).
    assert deprecation.replacement == "openai/gpt-6.1-terra"


def test_a_date_to_come_is_recorded_and_the_model_keeps_serving(seeded: Session) -> None:
    document = copy.deepcopy(fixture())
    document["gpt-6-astra"]["deprecation_date"] = "2027-06-01"
    [deprecation] = sync(seeded, document, apply=True).deprecations
    assert deprecation.scheduled
    seeded.expire_all()
    astra = model(seeded, "gpt-6-astra")
    assert (astra.is_deprecated, astra.is_active) == (False, True)
    assert astra.deprecation_date == datetime(2027, 6, 1, tzinfo=UTC)


def test_a_model_gone_from_the_map_is_reported_never_deleted(seeded: Session) -> None:
    document = copy.deepcopy(fixture())
    del document["claude-opus-5-5"]
    report = sync(seeded, document, apply=True)
    assert [(ref.provider, ref.model_id) for ref in report.missing] == [
        ("anthropic", "claude-opus-5-5")
    ]
    assert model(seeded, "claude-opus-5-5").is_active


def test_a_provider_kept_away_from_the_sync_is_not_compared(seeded: Session) -> None:
    openai = seeded.scalars(select(LLMProvider).where(LLMProvider.provider_slug == "openai")).one()
    openai.config = {"price_map_provider": None}
    seeded.commit()
    document = priced(fixture(), "gpt-6-luna", input_cost_per_token=1.5e-07)
    report = sync(seeded, document)
    assert "openai" not in report.providers
    assert report.changes == ()


def test_usage_already_recorded_keeps_its_cost(seeded: Session) -> None:
    engine = LLMRoutingEngine(seeded)
    luna = model(seeded, "gpt-6-luna")
    request_id = "req-before-the-sync"
    engine.log_usage("u", luna, request_id, prompt_tokens=100_000, completion_tokens=0)
    sync(seeded, priced(fixture(), "gpt-6-luna", input_cost_per_token=1e-06), apply=True)
    row = seeded.scalars(select(LLMUsageLog).where(LLMUsageLog.request_id == request_id)).one()
    assert row.cost_total_usd == Decimal("0.01")  # 100k tokens at the old $0.10 per 1M
