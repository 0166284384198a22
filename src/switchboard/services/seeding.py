"""Seeding the catalog: the starter providers, models and routing rules of `seed_catalog.json`.

Seeding adds what is missing, so running it again changes nothing and an admin's edits
(prices, priorities, a deactivated rule) survive it. A model an earlier seeding created, whose
prices nobody changed since, takes the catalog's current prices and limits, and its
deprecation (`seed_refresh`): an old catalog's stale prices do not outlive it, and a price an
admin set is never overwritten. Rows are matched by natural key,
the one the database holds unique: a provider by its slug, a model by (provider, model_id), a
rule by (model, power level, user tier, task type). A seeded row that an admin deleted is
created again. Runs at once (two replicas starting, two operators) each write the whole
catalog in one transaction; when another run inserted some of the same rows meanwhile, the
database refuses the second copy, and the run starts again and finds them.

Two switches change existing rows, because they are how an operator turns a provider on:
`demo=True` activates the built-in mock provider, and a `litellm_proxy_url` sets the LiteLLM
provider's base URL and activates it. Neither is ever undone by a later run without them.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from switchboard.models import Base, LLMModel, LLMProvider, LLMRoutingRule
from switchboard.models.catalog import prices_written_by
from switchboard.pricing import tiers_from_json, tiers_to_json
from switchboard.services.seed_refresh import SeededModel, refresh_seeded_models
from switchboard.vocabulary import AuthType, PowerLevel, PriceSource, Tier, normalize_task_type

CATALOG_PACKAGE = "switchboard.services"
CATALOG_RESOURCE = "seed_catalog.json"
MOCK_SLUG = "mock"
LITELLM_SLUG = "litellm"

# Columns the catalog may not set: keys and health belong to admins and to the health checker.
_PROVIDER_RESERVED = frozenset(
    {
        "id",
        "encrypted_api_key",
        "api_key_prefix",
        "api_key_suffix",
        "health_status",
        "last_health_check_at",
        "health_latency_ms",
        "health_error",
        "created_at",
        "updated_at",
    }
)
# Ids are the database's to give; a data file cannot know the id a replacement would have.
_MODEL_RESERVED = frozenset(
    {"id", "provider_id", "replacement_model_id", "price_source", "created_at", "updated_at"}
)
_RULE_RESERVED = frozenset({"id", "model_id", "created_at", "updated_at"})
_MODEL_ANNOTATIONS = ("rules", "source", "replacement_model")
"""A model's keys that are not columns: its rules, the price map entry its prices come from,
and the model (`model_id`, same provider) that replaces it once deprecated."""
_OPTIONAL_PRICES = ("cost_per_1m_cached_input_tokens", "cost_per_1m_cache_write_tokens")

_Vocabulary = TypeVar("_Vocabulary", AuthType, PowerLevel, Tier)

RuleKey = tuple[int, str, str | None, str]
"""(model row id, power level, user tier or None, task type): a rule's identity."""
SEED_ATTEMPTS = 3
"""Runs of one seeding, each after another transaction inserted some of the same rows."""


@dataclass(frozen=True, slots=True)
class SeedReport:
    """What one run changed. Rules are only ever created; models are created, or brought up
    to the catalog's prices when their prices are still the seed's (`seed_refresh`)."""

    providers_created: int = 0
    providers_updated: int = 0
    models_created: int = 0
    models_updated: int = 0
    rules_created: int = 0

    @property
    def changed(self) -> bool:
        return self != SeedReport()

    def __str__(self) -> str:
        return (
            f"{self.providers_created} providers created, {self.providers_updated} updated; "
            f"{self.models_created} models created, {self.models_updated} updated; "
            f"{self.rules_created} rules created"
        )


@dataclass(frozen=True, slots=True)
class RuleSeed:
    power_level: PowerLevel
    user_tier: Tier | None
    task_type: str
    fields: Mapping[str, Any]
    """Every column the catalog gives, ready for `LLMRoutingRule(**fields)`."""

    def key(self, model_row_id: int) -> RuleKey:
        return (model_row_id, self.power_level, self.user_tier, self.task_type)


@dataclass(frozen=True, slots=True)
class ModelSeed:
    model_id: str
    fields: Mapping[str, Any]
    rules: tuple[RuleSeed, ...]
    replacement: str | None = None
    """The `model_id` (same provider) that serves it once deprecated."""


@dataclass(frozen=True, slots=True)
class ProviderSeed:
    slug: str
    fields: Mapping[str, Any]
    models: tuple[ModelSeed, ...]


@dataclass(frozen=True, slots=True)
class SeedCatalog:
    providers: tuple[ProviderSeed, ...]


@dataclass
class _Tally:
    """The running counts of one seeding run; frozen into a `SeedReport` at the end."""

    providers_created: int = 0
    providers_updated: int = 0
    models_created: int = 0
    models_updated: int = 0
    rules_created: int = 0
    model_rows: dict[tuple[str, str], LLMModel] = field(default_factory=dict)
    created_ids: set[int] = field(default_factory=set)

    def report(self) -> SeedReport:
        # Every count of the report is the tally's, under the same name.
        return SeedReport(**{count.name: getattr(self, count.name) for count in fields(SeedReport)})


def seed_catalog(
    session: Session, *, demo: bool = False, litellm_proxy_url: str | None = None
) -> SeedReport:
    """Insert the starter catalog's missing providers, models and rules, then commit.

    `demo` activates the mock provider (its fallback rules then answer every tier and power
    level when no real provider has a key). `litellm_proxy_url` sets and activates the LiteLLM
    provider; without it that provider stays as it is (inactive when first seeded). Safe to
    run in several processes at once: a row another run inserted meanwhile is found by the
    next attempt."""
    proxy_url = None if litellm_proxy_url is None else _checked_proxy_url(litellm_proxy_url)
    catalog = load_seed_catalog()
    for attempt in range(1, SEED_ATTEMPTS + 1):
        try:
            return _seed_once(session, catalog, demo=demo, proxy_url=proxy_url)
        except IntegrityError:
            # A unique key another run filled first (it waited for that run to commit, so the
            # next attempt reads its rows); anything else fails the same way every time.
            if attempt == SEED_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _seed_once(
    session: Session, catalog: SeedCatalog, *, demo: bool, proxy_url: str | None
) -> SeedReport:
    tally = _Tally()
    try:
        with prices_written_by(session, PriceSource.SEED):
            providers = _seed_providers(session, catalog, tally, demo=demo, proxy_url=proxy_url)
            _seed_models(session, catalog, providers, tally)
            tally.models_updated = refresh_seeded_models(session, _seeded_models(catalog, tally))
            _seed_rules(session, catalog, tally)
        session.commit()
    except BaseException:
        # Leave the caller's session usable: nothing of a failed run is half-written.
        session.rollback()
        raise
    return tally.report()


def load_seed_catalog() -> SeedCatalog:
    """The catalog shipped as package data, parsed and checked."""
    text = resources.files(CATALOG_PACKAGE).joinpath(CATALOG_RESOURCE).read_text("utf-8")
    # Decimal, not float, so that 0.15 is stored as exactly 0.15 dollars.
    return parse_seed_catalog(json.loads(text, parse_float=Decimal))


def parse_seed_catalog(document: Mapping[str, Any]) -> SeedCatalog:
    """Check a catalog document (see `seed_catalog.json`) and turn it into seeds. A ValueError
    names the provider, model or rule at fault."""
    providers = tuple(_parse_provider(raw) for raw in _items(document, "providers", "catalog"))
    slugs = [provider.slug for provider in providers]
    _check_unique(slugs, "catalog: duplicate provider slug")
    return SeedCatalog(providers=providers)


def _seed_providers(
    session: Session,
    catalog: SeedCatalog,
    tally: _Tally,
    *,
    demo: bool,
    proxy_url: str | None,
) -> dict[str, LLMProvider]:
    slugs = [seed.slug for seed in catalog.providers]
    rows = {
        row.provider_slug: row
        for row in session.scalars(select(LLMProvider).where(LLMProvider.provider_slug.in_(slugs)))
    }
    for seed in catalog.providers:
        row = rows.get(seed.slug)
        if row is None:
            row = LLMProvider(**seed.fields)
            _switch_on(row, demo=demo, proxy_url=proxy_url)
            session.add(row)
            rows[seed.slug] = row
            tally.providers_created += 1
        elif _switch_on(row, demo=demo, proxy_url=proxy_url):
            tally.providers_updated += 1
    session.flush()
    return rows


def _switch_on(row: LLMProvider, *, demo: bool, proxy_url: str | None) -> bool:
    """Apply the run's switches to a provider row; True when that changed it."""
    if row.provider_slug == MOCK_SLUG and demo and not row.is_active:
        row.is_active = True
        return True
    if row.provider_slug == LITELLM_SLUG and proxy_url is not None:
        changed = row.base_url != proxy_url or not row.is_active
        row.base_url = proxy_url
        row.is_active = True
        return changed
    return False


def _seed_models(
    session: Session, catalog: SeedCatalog, providers: Mapping[str, LLMProvider], tally: _Tally
) -> None:
    provider_ids = [providers[seed.slug].id for seed in catalog.providers]
    existing = {
        (row.provider_id, row.model_id): row
        for row in session.scalars(select(LLMModel).where(LLMModel.provider_id.in_(provider_ids)))
    }
    created: list[LLMModel] = []
    for provider_seed in catalog.providers:
        provider = providers[provider_seed.slug]
        for seed in provider_seed.models:
            row = existing.get((provider.id, seed.model_id))
            if row is None:
                row = LLMModel(
                    provider_id=provider.id, price_source=PriceSource.SEED, **seed.fields
                )
                session.add(row)
                created.append(row)
                tally.models_created += 1
            tally.model_rows[(provider_seed.slug, seed.model_id)] = row
    session.flush()
    tally.created_ids = {row.id for row in created}


def _seeded_models(catalog: SeedCatalog, tally: _Tally) -> list[SeededModel]:
    seeded = []
    for provider_seed in catalog.providers:
        for seed in provider_seed.models:
            row = tally.model_rows[(provider_seed.slug, seed.model_id)]
            replacement = (
                tally.model_rows[(provider_seed.slug, seed.replacement)]
                if seed.replacement is not None
                else None
            )
            seeded.append(SeededModel(row, seed.fields, replacement, row.id in tally.created_ids))
    return seeded


def _seed_rules(session: Session, catalog: SeedCatalog, tally: _Tally) -> None:
    model_ids = [row.id for row in tally.model_rows.values()]
    existing = {
        _rule_key(row)
        for row in session.scalars(
            select(LLMRoutingRule).where(LLMRoutingRule.model_id.in_(model_ids))
        )
    }
    for provider_seed in catalog.providers:
        for model_seed in provider_seed.models:
            model = tally.model_rows[(provider_seed.slug, model_seed.model_id)]
            for seed in model_seed.rules:
                key = seed.key(model.id)
                if key in existing:
                    continue
                session.add(LLMRoutingRule(model_id=model.id, **seed.fields))
                existing.add(key)
                tally.rules_created += 1
    session.flush()


def _rule_key(row: LLMRoutingRule) -> RuleKey:
    """A stored rule's identity, read the way the catalog loader reads it, so that a rule
    an admin saved as `Code` or with an empty tier still counts as the seeded one."""
    task = normalize_task_type(row.task_type)
    return (row.model_id, row.power_level, row.user_tier or None, task)


def _checked_proxy_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"litellm_proxy_url must be an http(s) URL, got {url!r}")
    # The adapters append `/chat/completions`; a trailing slash would double it.
    return url.strip().rstrip("/")


def _parse_provider(raw: Any) -> ProviderSeed:
    fields = _fields(raw, "provider", LLMProvider, _PROVIDER_RESERVED, nested=("models",))
    slug = _required_str(fields, "provider_slug", "provider")
    where = f"provider {slug!r}"
    _required_str(fields, "provider_name", where)
    _enum_value(AuthType, fields.get("auth_type", AuthType.BEARER), f"{where} auth_type")
    _enum_value(Tier, fields.get("min_tier_required", Tier.FREE), f"{where} min_tier_required")
    models = tuple(_parse_model(item, where) for item in _items(raw, "models", where))
    _check_unique([model.model_id for model in models], f"{where}: duplicate model_id")
    _check_replacements(models, where)
    return ProviderSeed(slug=slug, fields=MappingProxyType(fields), models=models)


def _check_replacements(models: Sequence[ModelSeed], provider: str) -> None:
    """A replacement is a model of the same provider that is not deprecated itself; a
    deprecated model has one."""
    by_id = {model.model_id: model for model in models}
    for model in models:
        where = f"seed catalog: {provider} model {model.model_id!r}"
        if model.replacement is None:
            if model.fields.get("is_deprecated"):
                raise ValueError(f"{where}: a deprecated model needs a replacement_model")
            continue
        replacement = by_id.get(model.replacement)
        if replacement is None or replacement.fields.get("is_deprecated"):
            raise ValueError(
                f"{where}: replacement_model {model.replacement!r} is not a current model of "
                "the provider"
            )


def _parse_model(raw: Any, provider: str) -> ModelSeed:
    fields = _fields(raw, f"{provider} model", LLMModel, _MODEL_RESERVED, nested=_MODEL_ANNOTATIONS)
    model_id = _required_str(fields, "model_id", f"{provider} model")
    where = f"{provider} model {model_id!r}"
    _required_str(fields, "model_name", where)
    _enum_value(PowerLevel, fields.get("power_level"), f"{where} power_level")
    _enum_value(Tier, fields.get("min_tier_required", Tier.FREE), f"{where} min_tier_required")
    for price in ("cost_per_1m_input_tokens", "cost_per_1m_output_tokens"):
        if not _is_price(fields.get(price)):
            raise ValueError(f"seed catalog: {where}: {price} must be a number >= 0")
    for price in _OPTIONAL_PRICES:
        if fields.get(price) is not None and not _is_price(fields[price]):
            raise ValueError(f"seed catalog: {where}: {price} must be a number >= 0 or null")
    try:
        fields["price_tiers"] = tiers_to_json(tiers_from_json(fields.get("price_tiers")))
    except ValueError as error:
        raise ValueError(f"seed catalog: {where}: price_tiers: {error}") from None
    if fields.get("deprecation_date") is not None:
        fields["deprecation_date"] = _midnight(fields["deprecation_date"], where)
    replacement = raw.get("replacement_model")
    if replacement is not None and not isinstance(replacement, str):
        raise ValueError(f"seed catalog: {where}: replacement_model must be a model_id")
    rules = tuple(_parse_rule(item, where) for item in _items(raw, "rules", where))
    keys = [(rule.power_level, rule.user_tier, rule.task_type) for rule in rules]
    _check_unique(keys, f"{where}: duplicate rule")
    return ModelSeed(
        model_id=model_id, fields=MappingProxyType(fields), rules=rules, replacement=replacement
    )


def _is_price(value: Any) -> bool:
    return isinstance(value, int | Decimal) and not isinstance(value, bool) and value >= 0


def _midnight(value: Any, where: str) -> datetime:
    """A `YYYY-MM-DD` date as the start of that day in UTC."""
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(f"seed catalog: {where}: deprecation_date must be a YYYY-MM-DD date")
    return datetime.combine(day, datetime.min.time(), UTC)


def _parse_rule(raw: Any, model: str) -> RuleSeed:
    where = f"{model} rule"
    fields = _fields(raw, where, LLMRoutingRule, _RULE_RESERVED)
    power_level = _enum_value(PowerLevel, fields.get("power_level"), f"{where} power_level")
    tier_value = fields.get("user_tier")
    user_tier = None if tier_value is None else _enum_value(Tier, tier_value, f"{where} user_tier")
    task_type = normalize_task_type(fields.get("task_type"))
    is_fallback = fields.get("is_fallback", False)
    if not isinstance(is_fallback, bool):
        raise ValueError(f"seed catalog: {where}: is_fallback must be true or false")
    # Plain strings in the row, as the rest of the code stores them.
    fields.update(
        power_level=power_level.value,
        user_tier=None if user_tier is None else user_tier.value,
        task_type=task_type,
        is_fallback=is_fallback,
    )
    return RuleSeed(
        power_level=power_level,
        user_tier=user_tier,
        task_type=task_type,
        fields=MappingProxyType(fields),
    )


def _fields(
    raw: Any,
    where: str,
    table: type[Base],
    reserved: frozenset[str],
    *,
    nested: Collection[str] = (),
) -> dict[str, Any]:
    """The object's column values, refusing keys that are not columns (a typo would otherwise
    be dropped silently) and columns the catalog must not set."""
    if not isinstance(raw, Mapping):
        raise ValueError(f"seed catalog: {where} must be an object")
    columns = set(inspect(table).columns.keys())
    fields = {key: value for key, value in raw.items() if key not in nested}
    unknown = sorted(key for key in fields if key not in columns or key in reserved)
    if unknown:
        raise ValueError(f"seed catalog: {where}: unknown or reserved field(s) {unknown}")
    return fields


def _items(raw: Any, key: str, where: str) -> Sequence[Any]:
    items = raw.get(key, []) if isinstance(raw, Mapping) else None
    if not isinstance(items, list):
        raise ValueError(f"seed catalog: {where}: {key!r} must be a list")
    return items


def _required_str(fields: Mapping[str, Any], key: str, where: str) -> str:
    value = fields.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"seed catalog: {where}: {key!r} must be a non-empty string")
    return value


def _enum_value(kind: type[_Vocabulary], value: Any, where: str) -> _Vocabulary:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(
            f"seed catalog: {where} is {value!r}, expected one of {', '.join(kind)}"
        ) from None


def _check_unique(values: Sequence[Hashable], message: str) -> None:
    duplicates = sorted(repr(value) for value, count in Counter(values).items() if count > 1)
    if duplicates:
        raise ValueError(f"seed catalog: {message} {', '.join(duplicates)}")
