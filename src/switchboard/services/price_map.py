"""A price map in LiteLLM's format (`model_prices_and_context_window.json`), read and checked.

The map is one JSON object: a key per model (`gpt-4o`, `gemini/gemini-2.5-pro`,
`groq/openai/gpt-oss-20b`) whose entry gives `litellm_provider`, prices in dollars per token
(`input_cost_per_token`, `output_cost_per_token`, `cache_read_input_token_cost`,
`cache_creation_input_token_cost`, and long-context tiers such as
`input_cost_per_token_above_200k_tokens`), `max_input_tokens`, `max_output_tokens`,
`deprecation_date`, `successor_model`, `source` and capability flags.

A catalog provider is matched to the map's `litellm_provider` of the same name as its slug
(`openai`, `anthropic`, `gemini`, `groq`, `mistral`, `deepseek`), or to the one its config
names in `price_map_provider`. Its model `M` is the map's key `<provider>/M`, else the key `M`
when that entry's `litellm_provider` is the provider (the prefixed key wins when both exist).

Only entries of the providers asked for are read, and those strictly: an entry that is not an
object, a price that is negative or not a number, a token count that is not a whole number,
a date that is not `YYYY-MM-DD`, a flag that is not true or false — any value of a field
read here that is not of its type — is a `PriceMapError` naming the entry and the field.
Fields not read here are not looked at. Prices become dollars per 1M tokens, rounded
(half-even) to the 6 places a price is stored with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any

from switchboard._types import PRICE_PLACES
from switchboard.errors import PriceMapError
from switchboard.pricing import Prices, PriceTier

PER_TOKEN_TO_PER_MILLION = Decimal(1_000_000)
_PLACES = Decimal(1).scaleb(-PRICE_PLACES)
_MAX_PRICE = Decimal("99999999.999999")
_PRICE_FIELDS = {
    "input_cost_per_token": "input_price",
    "output_cost_per_token": "output_price",
    "cache_read_input_token_cost": "cached_input_price",
    "cache_creation_input_token_cost": "cache_write_price",
}
_TIER_KEY = re.compile(
    r"^(?P<price>input_cost_per_token|output_cost_per_token|cache_read_input_token_cost"
    r"|cache_creation_input_token_cost)_above_(?P<count>\d+)(?P<k>k?)_tokens$"
)
_FLAGS = {
    "supports_function_calling": "supports_function_calling",
    "supports_vision": "supports_vision",
    "supports_response_schema": "supports_json_mode",
}
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True, slots=True)
class MapModel:
    """One entry of the map, as the catalog needs it."""

    key: str
    provider: str
    model_id: str
    """The key without its provider's prefix: the catalog's `model_id`."""
    mode: str | None = None
    prices: Prices | None = None
    """Per 1M tokens; None when the entry gives no input or output price."""
    tiers: tuple[PriceTier, ...] = ()
    context_window: int | None = None
    """`max_input_tokens`, as the catalog has always read a context window."""
    max_output: int | None = None
    deprecation_date: date | None = None
    successor: str | None = None
    """The key of the model that replaces this one, as the map names it."""
    source: str | None = None
    flags: Mapping[str, bool] = field(default_factory=dict)
    """`supports_function_calling`, `supports_vision`, `supports_json_mode`: those given."""

    @property
    def is_alias(self) -> bool:
        """`-latest` names a moving target: the model it serves, and its price, change."""
        return self.model_id.endswith("latest")


@dataclass(frozen=True, slots=True)
class PriceMap:
    """The entries of the providers asked for, by (provider, model id)."""

    models: Mapping[tuple[str, str], MapModel]
    keys: Mapping[str, MapModel]
    providers: frozenset[str]
    """Those of the providers asked for that have at least one entry."""

    def find(self, provider: str, model_id: str) -> MapModel | None:
        return self.models.get((provider, model_id))

    def by_key(self, key: str) -> MapModel | None:
        return self.keys.get(key)

    def of_provider(self, provider: str) -> list[MapModel]:
        return sorted(
            (model for model in self.models.values() if model.provider == provider),
            key=lambda model: model.model_id,
        )


def load_price_map(text: str | bytes, *, source: str, providers: Collection[str]) -> PriceMap:
    """Parse and check a map read from `source` (named in errors)."""
    try:
        document = json.loads(text, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as error:
        raise PriceMapError(f"the price map from {source} is not valid JSON: {error}") from None
    return parse_price_map(document, providers=providers, source=source)


def parse_price_map(document: Any, *, providers: Collection[str], source: str) -> PriceMap:
    if not isinstance(document, Mapping):
        raise PriceMapError(f"the price map from {source} is not a JSON object")
    wanted = frozenset(providers)
    models: dict[tuple[str, str], MapModel] = {}
    keys: dict[str, MapModel] = {}
    for key, entry in document.items():
        if not isinstance(entry, Mapping):
            raise PriceMapError(f"price map entry {key!r} is not an object")
        provider = entry.get("litellm_provider")
        if provider not in wanted:
            continue
        model = _parse_entry(key, provider, entry)
        keys[key] = model
        prefixed = key.startswith(f"{provider}/")
        taken = models.get((provider, model.model_id))
        if taken is None or (prefixed and not taken.key.startswith(f"{provider}/")):
            models[(provider, model.model_id)] = model
    present = frozenset(provider for provider, _ in models)
    return PriceMap(models=models, keys=keys, providers=present)


def _parse_entry(key: str, provider: str, entry: Mapping[str, Any]) -> MapModel:
    where = f"price map entry {key!r}"
    base = {name: _price(entry, field, where) for field, name in _PRICE_FIELDS.items()}
    input_price, output_price = base["input_price"], base["output_price"]
    prices = None
    if input_price is not None and output_price is not None:
        prices = Prices(
            input_price, output_price, base["cached_input_price"], base["cache_write_price"]
        )
    return MapModel(
        key=key,
        provider=provider,
        model_id=key.removeprefix(f"{provider}/"),
        mode=_text(entry, "mode", where),
        prices=prices,
        tiers=_tiers(entry, where),
        context_window=_count(entry, "max_input_tokens", where),
        max_output=_count(entry, "max_output_tokens", where),
        deprecation_date=_date(entry, "deprecation_date", where),
        successor=_text(entry, "successor_model", where),
        source=_text(entry, "source", where),
        flags={
            name: value
            for field, name in _FLAGS.items()
            if (value := _flag(entry, field, where)) is not None
        },
    )


def _tiers(entry: Mapping[str, Any], where: str) -> tuple[PriceTier, ...]:
    by_threshold: dict[int, dict[str, Decimal]] = {}
    for name in entry:
        match = _TIER_KEY.match(name)
        if match is None:
            continue
        threshold = int(match["count"]) * (1000 if match["k"] else 1)
        price = _price(entry, name, where)
        if price is not None:
            by_threshold.setdefault(threshold, {})[_PRICE_FIELDS[match["price"]]] = price
    return tuple(
        PriceTier(above_tokens=threshold, **prices)
        for threshold, prices in sorted(by_threshold.items())
    )


def _price(entry: Mapping[str, Any], name: str, where: str) -> Decimal | None:
    """A price per token in the map, per 1M tokens here."""
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise PriceMapError(f"{where}: {name} is {value!r}, not a number")
    try:
        per_million = (Decimal(value) * PER_TOKEN_TO_PER_MILLION).quantize(
            _PLACES, rounding=ROUND_HALF_EVEN
        )
    except InvalidOperation:
        raise PriceMapError(f"{where}: {name} is {value!r}, not a price") from None
    if not per_million.is_finite() or per_million < 0:
        raise PriceMapError(f"{where}: {name} is {value!r}, not a price >= 0")
    if per_million > _MAX_PRICE:
        raise PriceMapError(f"{where}: {name} is {value!r}, more than a price can be")
    return per_million


def _count(entry: Mapping[str, Any], name: str, where: str) -> int | None:
    """A token limit; 0 (as the map gives models that write no text) is none."""
    value = entry.get(name)
    if value is None:
        return None
    whole = isinstance(value, int) or (
        isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value()
    )
    if isinstance(value, bool) or not whole or value < 0 or value > 2**31 - 1:
        raise PriceMapError(f"{where}: {name} is {value!r}, not a number of tokens")
    return int(value) or None


def _date(entry: Mapping[str, Any], name: str, where: str) -> date | None:
    value = entry.get(name)
    if value is None:
        return None
    if isinstance(value, str) and _DATE.match(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise PriceMapError(f"{where}: {name} is {value!r}, not a date (YYYY-MM-DD)")


def _text(entry: Mapping[str, Any], name: str, where: str) -> str | None:
    value = entry.get(name)
    if value is None or isinstance(value, str):
        return value
    raise PriceMapError(f"{where}: {name} is {value!r}, not text")


def _flag(entry: Mapping[str, Any], name: str, where: str) -> bool | None:
    value = entry.get(name)
    if value is None or isinstance(value, bool):
        return value
    raise PriceMapError(f"{where}: {name} is {value!r}, not true or false")
