"""Seeding a database an older catalog seeded: stale seeded prices are brought up to date
through the price history, retired models are deprecated once, and what an admin set stays."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from switchboard.models import LLMModel, LLMModelPriceHistory
from switchboard.models.catalog import prices_written_by
from switchboard.services.catalog_admin import update_model
from switchboard.services.seeding import SeedReport, parse_seed_catalog, seed_catalog
from switchboard.vocabulary import PriceSource


def model(db: Session, model_id: str) -> LLMModel:
    return db.scalars(select(LLMModel).where(LLMModel.model_id == model_id)).one()


def make_stale(db: Session, model_id: str, **values: Any) -> None:
    """What an older seeding left: other prices or limits, still the seed's."""
    row = model(db, model_id)
    with prices_written_by(db, PriceSource.SEED):
        for name, value in values.items():
            setattr(row, name, value)
        db.commit()
    assert row.price_source == PriceSource.SEED


def history_of(db: Session, row: LLMModel) -> list[tuple[Decimal, datetime | None, str | None]]:
    periods = db.scalars(
        select(LLMModelPriceHistory)
        .where(LLMModelPriceHistory.model_id == row.id)
        .order_by(LLMModelPriceHistory.effective_from, LLMModelPriceHistory.id)
    )
    return [(p.cost_per_1m_input_tokens, p.effective_to, p.changed_by) for p in periods]


def test_stale_seeded_prices_and_limits_take_the_catalogs(db: Session) -> None:
    seed_catalog(db)
    make_stale(
        db,
        "mistral-large-latest",
        cost_per_1m_input_tokens=Decimal("2.0"),
        cost_per_1m_output_tokens=Decimal("6.0"),
        cost_per_1m_cached_input_tokens=None,
        context_window=131072,
    )
    assert seed_catalog(db) == SeedReport(models_updated=1)
    db.expire_all()
    large = model(db, "mistral-large-latest")
    assert (
        large.cost_per_1m_input_tokens,
        large.cost_per_1m_cached_input_tokens,
        large.cost_per_1m_output_tokens,
        large.context_window,
        large.price_source,
    ) == (Decimal("0.5"), Decimal("0.05"), Decimal("1.5"), 262144, PriceSource.SEED)
    # The old price stays known: a closed period from the model's creation, then the new one.
    periods = history_of(db, large)
    assert [(price, to is None, who) for price, to, who in periods] == [
        (Decimal("2.0"), False, None),
        (Decimal("0.5"), True, "seed"),
    ]
    assert seed_catalog(db) == SeedReport()


def test_a_price_an_admin_set_is_never_overwritten(db: Session) -> None:
    seed_catalog(db)
    row = model(db, "gpt-6-luna")
    update_model(
        db, actor="admin", model_row_id=row.id, changes={"cost_per_1m_input_tokens": Decimal(1)}
    )
    assert row.price_source == PriceSource.MANUAL
    assert seed_catalog(db) == SeedReport()
    db.refresh(row)
    assert row.cost_per_1m_input_tokens == Decimal(1)


def test_a_model_the_catalog_retired_is_deprecated_once_with_its_replacement(
    db: Session,
) -> None:
    seed_catalog(db)
    flash = model(db, "gemini-2.5-flash")
    assert (flash.is_deprecated, flash.is_active) == (True, False)
    assert flash.replacement_model_id == model(db, "gemini-3.8-flash").id
    # As an older seeding left it: active, no date, no replacement.
    flash.is_deprecated, flash.is_active = False, True
    flash.deprecation_date = flash.replacement_model_id = None
    db.commit()

    assert seed_catalog(db) == SeedReport(models_updated=1)
    db.refresh(flash)
    assert (flash.is_deprecated, flash.is_active) == (True, False)
    assert flash.deprecation_date == datetime(2026, 12, 1, tzinfo=UTC)
    assert flash.replacement_model_id == model(db, "gemini-3.8-flash").id

    # An admin brings it back: the date is set, so seeding leaves it so.
    flash.is_deprecated, flash.is_active = False, True
    db.commit()
    assert seed_catalog(db) == SeedReport()
    db.refresh(flash)
    assert (flash.is_deprecated, flash.is_active) == (False, True)


def test_a_date_still_to_come_is_recorded_and_the_model_keeps_serving(db: Session) -> None:
    seed_catalog(db)
    mini = model(db, "gpt-4o-mini")
    assert (mini.is_deprecated, mini.is_active) == (False, True)
    assert mini.deprecation_date == datetime(2027, 1, 14, tzinfo=UTC)
    assert mini.replacement_model_id == model(db, "gpt-6-luna").id


def test_a_fresh_seed_writes_no_price_history(db: Session) -> None:
    seed_catalog(db)
    assert db.scalar(select(func.count()).select_from(LLMModelPriceHistory)) == 0


def _catalog(**model_fields: Any) -> dict[str, Any]:
    current = {
        "model_id": "new",
        "model_name": "New",
        "power_level": "eco",
        "cost_per_1m_input_tokens": 1,
        "cost_per_1m_output_tokens": 1,
    }
    old = current | {"model_id": "old", "model_name": "Old"} | model_fields
    return {"providers": [{"provider_slug": "x", "provider_name": "X", "models": [current, old]}]}


@pytest.mark.parametrize(
    ("model_fields", "message"),
    [
        ({"is_deprecated": True}, "a deprecated model needs a replacement_model"),
        ({"replacement_model": "gone"}, "replacement_model 'gone' is not a current model"),
        ({"replacement_model": 7}, "replacement_model must be a model_id"),
        ({"deprecation_date": "2026-13-01"}, "deprecation_date must be a YYYY-MM-DD date"),
        ({"price_tiers": [{"above_tokens": -5}]}, "price_tiers: above_tokens"),
        ({"cost_per_1m_cache_write_tokens": -1}, "cost_per_1m_cache_write_tokens must be"),
        ({"colour": "red"}, "unknown or reserved field(s) ['colour']"),
        ({"price_source": "sync"}, "unknown or reserved field(s) ['price_source']"),
    ],
)
def test_a_malformed_model_is_refused_with_a_reason(
    model_fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_seed_catalog(_catalog(**model_fields))


def test_a_source_and_a_replacement_are_read_not_stored() -> None:
    catalog = parse_seed_catalog(
        _catalog(
            is_deprecated=True,
            deprecation_date="2026-07-24",
            replacement_model="new",
            source={"price_map_key": "x/old", "url": None},
        )
    )
    old = catalog.providers[0].models[1]
    assert old.replacement == "new"
    assert "source" not in old.fields
    assert old.fields["deprecation_date"] == datetime(2026, 7, 24, tzinfo=UTC)
