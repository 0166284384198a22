"""A model's prices over time: `llm_model_price_history`, a row per price period.

Every change of a model's prices (`PRICE_COLUMNS`: input, output, cached input, cache write,
long-context tiers) closes the open period and opens another, whoever makes it: the admin
API, seeding, the price sync. Usage rows keep the cost they were billed at; the history says
what the price was, and since when.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.models import LLMModel, LLMModelPriceHistory
from switchboard.models.catalog import PRICE_COLUMNS


def prices_of(model: LLMModel) -> dict[str, Any]:
    """The model's prices as its history keeps them."""
    return {column: getattr(model, column) for column in PRICE_COLUMNS}


def prices_differ(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """Whether two sets of prices (`prices_of`) differ; 2.5 and 2.50 are the same price."""
    return any(_differs(old.get(column), new.get(column)) for column in PRICE_COLUMNS)


def open_price_period(
    session: Session,
    model: LLMModel,
    *,
    changed_by: str,
    previous: Mapping[str, Any] | None = None,
) -> None:
    """Open a period at the model's prices now. With `previous` (its prices before this
    change), close the open one first; a model priced before history was kept (a seeded
    one) gets a closed period at `previous` from its creation, so its old price stays known."""
    now, history = utcnow(), LLMModelPriceHistory
    if previous is not None:
        current = session.scalar(
            select(history)
            .where(history.model_id == model.id, history.effective_to.is_(None))
            .order_by(history.effective_from.desc())
        )
        if current is not None:
            current.effective_to = now
        else:
            session.add(
                history(
                    model_id=model.id,
                    effective_from=model.created_at,
                    effective_to=now,
                    **previous,
                )
            )
    session.add(
        history(model_id=model.id, effective_from=now, changed_by=changed_by, **prices_of(model))
    )


def _differs(old: Any, new: Any) -> bool:
    if old is None or new is None:
        return (old is None) != (new is None)
    if hasattr(old, "compare") and hasattr(new, "compare"):  # Decimals: by value
        return bool(old.compare(new) != 0)
    return bool(old != new)
