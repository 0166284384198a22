"""What the database keeps: exact money, UTC times, idempotent usage rows, uniqueness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.models import LLMModel, LLMProvider, LLMUsageLog
from switchboard.usage import UsageRecord, write_records


def provider(db: Session, slug: str = "openai") -> LLMProvider:
    row = LLMProvider(provider_name=slug.title(), provider_slug=slug)
    db.add(row)
    db.commit()
    return row


def test_usage_rows_keep_ten_decimal_places(db: Session) -> None:
    amounts = [Decimal("0.0000000001"), Decimal("12345.6789012345"), Decimal("0.1234567891")]
    records = [
        UsageRecord(request_id=f"r{i}", user_id="u", cost_total_usd=amount)
        for i, amount in enumerate(amounts)
    ]
    write_records(db, records)
    db.commit()
    db.expire_all()
    stored = db.scalars(select(LLMUsageLog.cost_total_usd).order_by(LLMUsageLog.request_id))
    assert list(stored) == amounts


def test_costs_beyond_ten_places_are_rounded_half_even_when_stored(db: Session) -> None:
    write_records(
        db, [UsageRecord(request_id="r", user_id="u", cost_total_usd=Decimal("1.00000000005"))]
    )
    db.commit()
    db.expire_all()
    assert db.scalar(select(LLMUsageLog.cost_total_usd)) == Decimal("1.0000000000")


def test_writing_the_same_request_twice_keeps_one_row(db: Session) -> None:
    first = write_records(db, [UsageRecord(request_id="same", user_id="u", prompt_tokens=5)])
    db.commit()
    again = write_records(
        db,
        [
            UsageRecord(request_id="same", user_id="u", prompt_tokens=999),
            UsageRecord(request_id="other", user_id="u", prompt_tokens=1),
        ],
    )
    db.commit()
    assert again["same"] == first["same"]
    assert db.scalar(select(func.count()).select_from(LLMUsageLog)) == 2
    assert db.scalar(select(LLMUsageLog.prompt_tokens).where(LLMUsageLog.request_id == "same")) == 5


def test_timestamps_are_stored_and_returned_in_utc(db: Session) -> None:
    paris = timezone(timedelta(hours=1))
    aware = datetime(2026, 1, 2, 13, 0, tzinfo=paris)
    naive_utc = datetime(2026, 1, 2, 12, 30)  # noqa: DTZ001 - naive values are taken as UTC
    write_records(
        db,
        [
            UsageRecord(request_id="a", user_id="u", created_at=aware),
            UsageRecord(request_id="n", user_id="u", created_at=naive_utc),
        ],
    )
    db.commit()
    db.expire_all()
    rows = {
        rid: at for rid, at in db.execute(select(LLMUsageLog.request_id, LLMUsageLog.created_at))
    }
    assert rows["a"] == datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert rows["n"] == datetime(2026, 1, 2, 12, 30, tzinfo=UTC)


def test_provider_slug_is_unique(db: Session) -> None:
    provider(db, "openai")
    db.add(LLMProvider(provider_name="Again", provider_slug="openai"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_model_id_is_unique_per_provider_only(db: Session) -> None:
    first, second = provider(db, "a"), provider(db, "b")
    db.add_all(
        [
            LLMModel(provider_id=first.id, model_name="M", model_id="m"),
            LLMModel(provider_id=second.id, model_name="M", model_id="m"),
        ]
    )
    db.commit()
    db.add(LLMModel(provider_id=first.id, model_name="M", model_id="m"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_a_model_needs_an_existing_provider(db: Session) -> None:
    db.add(LLMModel(provider_id=12345, model_name="M", model_id="m"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()
