"""Bringing models an earlier seeding created up to the current starter catalog.

Seeding adds what is missing; this is what it does to models already there. A model whose
prices are still the seed's (`price_source` `seed`: nobody repriced it since, by any means)
takes the catalog's current prices — through the price history, so usage already recorded
keeps the cost it was billed at — and its context window and output limit. A model the
catalog now marks deprecated is deprecated, with its replacement, once: a model whose
`deprecation_date` is already set is left as it is (an admin may have brought it back).
Models an admin repriced (`manual`) or the price sync keeps (`sync`) are not touched.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from switchboard.models import LLMModel
from switchboard.models.catalog import PRICE_COLUMNS
from switchboard.services.price_history import open_price_period, prices_differ, prices_of
from switchboard.vocabulary import PriceSource

SEED_ACTOR = "seed"
"""Who changed a price, in the price history, when seeding did."""
_LIMITS = ("context_window", "max_tokens")


@dataclass(frozen=True, slots=True)
class SeededModel:
    """A model row and what the catalog says of it now."""

    row: LLMModel
    fields: Mapping[str, Any]
    replacement: LLMModel | None
    created: bool


def refresh_seeded_models(session: Session, models: Iterable[SeededModel]) -> int:
    """Link new models to their replacements, and bring seeded ones up to date; returns how
    many existing models changed."""
    updated = 0
    for model in models:
        if model.created:
            if model.replacement is not None:
                model.row.replacement_model_id = model.replacement.id
            continue
        if _refresh(session, model):
            updated += 1
    session.flush()
    return updated


def _refresh(session: Session, model: SeededModel) -> bool:
    row, fields = model.row, model.fields
    if row.price_source != PriceSource.SEED:
        return False
    changed = False
    previous = prices_of(row)
    wanted = {column: fields.get(column) for column in PRICE_COLUMNS}
    if prices_differ(previous, wanted):
        for column, value in wanted.items():
            setattr(row, column, value)
        session.flush()
        open_price_period(session, row, changed_by=SEED_ACTOR, previous=previous)
        changed = True
    for column in _LIMITS:
        if column in fields and getattr(row, column) != fields[column]:
            setattr(row, column, fields[column])
            changed = True
    if fields.get("deprecation_date") is not None and row.deprecation_date is None:
        row.deprecation_date = fields["deprecation_date"]
        if fields.get("is_deprecated"):
            row.is_deprecated, row.is_active = True, False
        if model.replacement is not None and row.replacement_model_id is None:
            row.replacement_model_id = model.replacement.id
        changed = True
    return changed
