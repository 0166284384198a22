"""The price sync: the catalog compared with a price map (LiteLLM's format), and brought in line.

`sync_catalog` works out the difference — prices (input, output, cached input, cache write,
long-context tiers), context windows and output limits, models the map says are deprecated,
catalog models the map no longer has ("retired?": reported, never deleted), the map's chat
models of known providers that the catalog lacks — and, with `apply`, writes it in one
transaction: prices through the price history (usage already recorded keeps the cost it was
billed at), each model's change in the audit log. A dry run writes nothing.

Prices someone set by hand (`price_source` `manual`) are reported and left alone unless
`force`: then they become the sync's. Prices the seed or an earlier sync set are the sync's to
change. A deprecation the map dates in the past takes the model out of routing, served by its
replacement when a client names it: the replacement it already has, else the map's
`successor_model` when the catalog has it, else the model its provider's rules would route
the same power level to. A date still to come is recorded, and the sync after it deprecates.

Running the same sync twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from switchboard._types import utcnow
from switchboard.models import LLMModel, LLMProvider, LLMRoutingRule
from switchboard.models.catalog import prices_written_by
from switchboard.pricing import tiers_from_json, tiers_to_json
from switchboard.services.audit import Action, Entity, record_change, snapshot_row
from switchboard.services.price_history import open_price_period, prices_of
from switchboard.services.price_map import MapModel, PriceMap
from switchboard.vocabulary import PriceSource

PRICE_MAP_PROVIDER = "price_map_provider"
"""A provider's config key naming its `litellm_provider` in the map, when not its slug;
`null` keeps the sync away from the provider."""
_PRICE_COLUMNS = {
    "input_price": "cost_per_1m_input_tokens",
    "output_price": "cost_per_1m_output_tokens",
    "cached_input_price": "cost_per_1m_cached_input_tokens",
    "cache_write_price": "cost_per_1m_cache_write_tokens",
}
_LIMIT_COLUMNS = {"context_window": "context_window", "max_output": "max_tokens"}
MANUAL_SKIPPED = "prices set by hand: left alone (force overwrites them)"


@dataclass(frozen=True, slots=True)
class FieldChange:
    column: str
    old: Any
    new: Any
    """Prices as decimal strings, tiers as stored (`pricing.tiers_to_json`), limits as ints."""


@dataclass(frozen=True, slots=True)
class ModelChange:
    """A model whose prices or limits differ from the map's."""

    model_row_id: int
    provider: str
    model_id: str
    map_key: str
    changes: tuple[FieldChange, ...]
    skipped: str | None = None
    """Why the change is not made (a price set by hand), else None."""


@dataclass(frozen=True, slots=True)
class Deprecation:
    model_row_id: int
    provider: str
    model_id: str
    deprecation_date: date
    scheduled: bool
    """The date is still to come: it is recorded, the model keeps serving until then."""
    replacement_row_id: int | None = None
    replacement: str | None = None
    """`provider/model_id` of the replacement; None: none found (named requests then fail)."""


@dataclass(frozen=True, slots=True)
class ModelRef:
    provider: str
    model_id: str
    model_row_id: int | None = None
    map_key: str | None = None


@dataclass(frozen=True)
class SyncReport:
    source: str
    applied: bool
    forced: bool
    changes: tuple[ModelChange, ...] = ()
    deprecations: tuple[Deprecation, ...] = ()
    missing: tuple[ModelRef, ...] = ()
    """Catalog models of known providers that the map does not have: retired?"""
    new_models: tuple[ModelRef, ...] = ()
    warnings: tuple[str, ...] = ()
    providers: tuple[str, ...] = field(default=())
    """The catalog's providers found in the map (by slug)."""

    @property
    def to_write(self) -> int:
        """How many changes a sync with the same options writes (or wrote)."""
        return sum(1 for c in self.changes if c.skipped is None) + len(self.deprecations)


def sync_catalog(
    session: Session,
    price_map: PriceMap,
    *,
    source: str,
    actor: str,
    apply: bool = False,
    force: bool = False,
    today: date | None = None,
) -> SyncReport:
    """Compare the catalog with `price_map` and, with `apply`, write the difference (one
    transaction, committed; rolled back whole on any error). Without it nothing is written."""
    today = today or utcnow().date()
    try:
        report = _plan(session, price_map, source=source, force=force, today=today)
        if not apply:
            session.rollback()
            return report
        with prices_written_by(session, PriceSource.SYNC):
            _write(session, report, actor=actor)
            session.flush()
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return replace(report, applied=True)


def map_provider_name(provider: LLMProvider) -> str | None:
    """The `litellm_provider` a catalog provider is in the map under, or None (not synced)."""
    config = provider.config or {}
    if PRICE_MAP_PROVIDER in config:
        name = config[PRICE_MAP_PROVIDER]
        return name if isinstance(name, str) and name else None
    return provider.provider_slug


def map_providers(session: Session) -> dict[int, str]:
    """Provider row id → its name in the map, for every provider the sync may look up."""
    return {
        row.id: name
        for row in session.scalars(select(LLMProvider))
        if (name := map_provider_name(row)) is not None
    }


def _plan(
    session: Session, price_map: PriceMap, *, source: str, force: bool, today: date
) -> SyncReport:
    providers = {
        row.id: row
        for row in session.scalars(select(LLMProvider).order_by(LLMProvider.provider_slug))
    }
    names = {pid: map_provider_name(row) for pid, row in providers.items()}
    known = {pid for pid, name in names.items() if name in price_map.providers}
    models = [
        row
        for row in session.scalars(select(LLMModel).order_by(LLMModel.model_id, LLMModel.id))
        if row.provider_id in known
    ]
    changes, missing, warnings, due = [], [], [], []
    for model in models:
        slug = providers[model.provider_id].provider_slug
        entry = price_map.find(names[model.provider_id] or "", model.model_id)
        if entry is None:
            if not model.is_deprecated:
                missing.append(ModelRef(slug, model.model_id, model.id))
            continue
        if entry.is_alias:
            warnings.append(
                f"{slug}/{model.model_id} is an alias: the model it names, and its price, "
                "move; check what it serves now"
            )
        if entry.prices is None:
            warnings.append(f"{slug}/{model.model_id}: the map ({entry.key}) gives no price")
        diff = _differences(model, entry)
        if diff:
            skipped = (
                MANUAL_SKIPPED if model.price_source == PriceSource.MANUAL and not force else None
            )
            changes.append(ModelChange(model.id, slug, model.model_id, entry.key, diff, skipped))
        if entry.deprecation_date is not None:
            due.append((model, entry))
    deprecations = _deprecations(session, price_map, providers, names, due, today)
    return SyncReport(
        source=source,
        applied=False,
        forced=force,
        changes=tuple(changes),
        deprecations=deprecations,
        missing=tuple(missing),
        new_models=_new_models(price_map, providers, names, known, models, today),
        warnings=tuple(warnings),
        providers=tuple(sorted(providers[pid].provider_slug for pid in known)),
    )


def _differences(model: LLMModel, entry: MapModel) -> tuple[FieldChange, ...]:
    found: list[FieldChange] = []
    if entry.prices is not None:
        for name, column in _PRICE_COLUMNS.items():
            old, new = getattr(model, column), getattr(entry.prices, name)
            if (old is None) != (new is None) or (old is not None and old.compare(new) != 0):
                found.append(FieldChange(column, _text(old), _text(new)))
        if _stored_tiers(model) != tiers_to_json(entry.tiers):
            found.append(FieldChange("price_tiers", model.price_tiers, tiers_to_json(entry.tiers)))
    for name, column in _LIMIT_COLUMNS.items():
        new_limit = getattr(entry, name)
        if new_limit is not None and getattr(model, column) != new_limit:
            found.append(FieldChange(column, getattr(model, column), new_limit))
    return tuple(found)


def _stored_tiers(model: LLMModel) -> list[dict[str, Any]] | None:
    """The model's tiers in their stored form, or a marker no map equals when unreadable."""
    try:
        return tiers_to_json(tiers_from_json(model.price_tiers))
    except ValueError:
        return [{"unreadable": True}]


def _deprecations(
    session: Session,
    price_map: PriceMap,
    providers: Mapping[int, LLMProvider],
    names: Mapping[int, str | None],
    due: Sequence[tuple[LLMModel, MapModel]],
    today: date,
) -> tuple[Deprecation, ...]:
    leaving = {
        model.id
        for model, entry in due
        if entry.deprecation_date is not None
        and entry.deprecation_date <= today
        and not model.is_deprecated
    }
    found = []
    for model, entry in due:
        when = entry.deprecation_date
        if when is None or model.is_deprecated:
            continue
        slug = providers[model.provider_id].provider_slug
        if when > today:
            if model.deprecation_date is None or model.deprecation_date.date() != when:
                found.append(Deprecation(model.id, slug, model.model_id, when, scheduled=True))
            continue
        replacement = _replacement(session, price_map, providers, names, model, entry, leaving)
        found.append(
            Deprecation(
                model.id,
                slug,
                model.model_id,
                when,
                scheduled=False,
                replacement_row_id=replacement.id if replacement is not None else None,
                replacement=(
                    f"{providers[replacement.provider_id].provider_slug}/{replacement.model_id}"
                    if replacement is not None
                    else None
                ),
            )
        )
    return tuple(found)


def _replacement(
    session: Session,
    price_map: PriceMap,
    providers: Mapping[int, LLMProvider],
    names: Mapping[int, str | None],
    model: LLMModel,
    entry: MapModel,
    leaving: set[int],
) -> LLMModel | None:
    def usable(row: LLMModel | None) -> LLMModel | None:
        ok = row is not None and not row.is_deprecated and row.id not in leaving
        return row if ok else None

    if model.replacement_model_id is not None:
        chosen = usable(session.get(LLMModel, model.replacement_model_id))
        if chosen is not None:
            return chosen
    successor = price_map.by_key(entry.successor) if entry.successor else None
    if successor is not None:
        for provider_id, name in names.items():
            if name != successor.provider:
                continue
            chosen = usable(
                session.scalar(
                    select(LLMModel).where(
                        LLMModel.provider_id == provider_id,
                        LLMModel.model_id == successor.model_id,
                    )
                )
            )
            if chosen is not None:
                return chosen
    return _routed_instead(session, model, leaving)


def _routed_instead(session: Session, model: LLMModel, leaving: set[int]) -> LLMModel | None:
    """The model of the same provider that its active rules route the deprecated model's
    power levels to first (lowest priority, then power-level priority)."""
    own = session.scalars(
        select(LLMRoutingRule.power_level).where(
            LLMRoutingRule.model_id == model.id, LLMRoutingRule.is_active.is_(True)
        )
    ).all()
    levels = set(own) or {model.power_level}
    candidates = session.execute(
        select(LLMModel, LLMRoutingRule.priority)
        .join(LLMRoutingRule, LLMRoutingRule.model_id == LLMModel.id)
        .where(
            LLMModel.provider_id == model.provider_id,
            LLMModel.id != model.id,
            LLMModel.is_active.is_(True),
            LLMModel.is_deprecated.is_(False),
            LLMRoutingRule.is_active.is_(True),
            LLMRoutingRule.is_fallback.is_(False),
            LLMRoutingRule.power_level.in_(levels),
        )
    ).all()
    ranked = sorted(
        ((priority, row.power_level_priority, row.id, row) for row, priority in candidates),
        key=lambda item: item[:3],
    )
    return next((row for *_, row in ranked if row.id not in leaving), None)


def _new_models(
    price_map: PriceMap,
    providers: Mapping[int, LLMProvider],
    names: Mapping[int, str | None],
    known: Iterable[int],
    models: Iterable[LLMModel],
    today: date,
) -> tuple[ModelRef, ...]:
    have = {(names[model.provider_id], model.model_id) for model in models}
    found = []
    for provider_id in sorted(known, key=lambda pid: providers[pid].provider_slug):
        name = names[provider_id] or ""
        for entry in price_map.of_provider(name):
            retired = entry.deprecation_date is not None and entry.deprecation_date <= today
            if (name, entry.model_id) in have or entry.mode != "chat" or retired:
                continue
            if entry.model_id.startswith("ft:"):  # a fine-tune's price, not a model to call
                continue
            slug = providers[provider_id].provider_slug
            found.append(ModelRef(slug, entry.model_id, map_key=entry.key))
    return tuple(found)


def _write(session: Session, report: SyncReport, *, actor: str) -> None:
    for change in report.changes:
        if change.skipped is not None:
            continue
        model = session.get(LLMModel, change.model_row_id)
        if model is None:
            continue
        before, previous = snapshot_row(model), prices_of(model)
        for item in change.changes:
            setattr(model, item.column, _stored(item))
        if any(item.column in previous for item in change.changes):
            model.price_source = PriceSource.SYNC
            open_price_period(session, model, changed_by=actor, previous=previous)
        session.flush()
        _audit(session, actor, Action.UPDATE, model, before)
    for deprecation in report.deprecations:
        model = session.get(LLMModel, deprecation.model_row_id)
        if model is None:
            continue
        before = snapshot_row(model)
        model.deprecation_date = datetime.combine(
            deprecation.deprecation_date, datetime.min.time(), UTC
        )
        action = Action.UPDATE
        if not deprecation.scheduled:
            model.is_deprecated, model.is_active = True, False
            model.replacement_model_id = deprecation.replacement_row_id
            action = Action.DEPRECATE
        session.flush()
        _audit(session, actor, action, model, before)


def _audit(
    session: Session, actor: str, action: Action, model: LLMModel, before: dict[str, Any] | None
) -> None:
    record_change(
        session,
        actor=actor,
        action=action,
        entity_type=Entity.MODEL,
        entity_id=model.id,
        before=before,
        after=snapshot_row(model),
    )


def _stored(change: FieldChange) -> Any:
    if change.column in _PRICE_COLUMNS.values():
        return None if change.new is None else Decimal(change.new)
    return change.new


def _text(price: Decimal | None) -> str | None:
    return None if price is None else format(price.normalize(), "f")
