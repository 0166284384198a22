"""The starter catalog's prices against a price map: checked by a test, refreshed by a command.

Every model of `seed_catalog.json` names the price map entry its prices come from
(`source.price_map_key`). `seed_differences` lists where the catalog and a map disagree (the
test holds the catalog to the copy of LiteLLM's map in the test data); `refresh_seed` takes
the map's prices, long-context tiers, limits and deprecation dates into the catalog, and
`main` does it to the files, with the test copy of the map:

    make refresh-prices PRICE_MAP=…/model_prices_and_context_window_backup.json VERSION=1.110.2

What a person decides stays theirs: which models are seeded, their rules, and a deprecated
model's replacement. The command says when one is needed (a model gone from the map, or
dated as deprecated).
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from switchboard._types import utcnow
from switchboard.pricing import tiers_to_json
from switchboard.services.price_map import MapModel, PriceMap, load_price_map

MAP_PROVIDERS = ("openai", "anthropic", "gemini", "groq", "mistral", "deepseek")
"""The seeded providers whose models the map prices (by their slugs)."""
_PRICES = {
    "cost_per_1m_input_tokens": "input_price",
    "cost_per_1m_cached_input_tokens": "cached_input_price",
    "cost_per_1m_cache_write_tokens": "cache_write_price",
    "cost_per_1m_output_tokens": "output_price",
}


def seeded_entries(seed: Mapping[str, Any]) -> list[tuple[str, dict[str, Any], str | None]]:
    """(provider slug, model, its price map key) for every model of the map's providers."""
    return [
        (provider["provider_slug"], model, (model.get("source") or {}).get("price_map_key"))
        for provider in seed["providers"]
        if provider["provider_slug"] in MAP_PROVIDERS
        for model in provider["models"]
    ]


def seed_differences(seed: Mapping[str, Any], price_map: PriceMap) -> list[str]:
    """Where the catalog's prices, tiers and limits differ from the map's, one line each. A
    model without a key must be deprecated (it is not in the map); one whose key the map
    lacks is reported."""
    found = []
    for slug, model, key in seeded_entries(seed):
        name = f"{slug}/{model['model_id']}"
        if key is None:
            if not model.get("is_deprecated"):
                found.append(f"{name}: no price map entry, and not deprecated")
            continue
        entry = price_map.by_key(key)
        if entry is None:
            found.append(f"{name}: the map has no entry {key!r}")
            continue
        for column, value in _map_values(entry).items():
            if not _same(model.get(column), value):
                found.append(f"{name}: {column} is {model.get(column)!r}, the map's {value!r}")
    return found


def refresh_seed(seed: dict[str, Any], price_map: PriceMap, *, as_of: date) -> list[str]:
    """Take the map's values into `seed` (in place); returns what a person must decide."""
    notes = []
    for slug, model, key in seeded_entries(seed):
        name = f"{slug}/{model['model_id']}"
        entry = price_map.by_key(key) if key else None
        if entry is None:
            if not model.get("is_deprecated"):
                notes.append(f"{name} is not in the map: deprecate it (replacement_model)")
            continue
        model.update(_map_values(entry))
        when = entry.deprecation_date
        if when is not None:
            model["deprecation_date"] = when.isoformat()
            if when <= as_of and not model.get("is_deprecated"):
                notes.append(f"{name} is deprecated since {when}: choose its replacement_model")
    seed["prices_as_of"] = as_of.isoformat()
    return notes


def _map_values(entry: MapModel) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if entry.prices is not None:
        values = {column: getattr(entry.prices, name) for column, name in _PRICES.items()}
        values["price_tiers"] = tiers_to_json(entry.tiers)
    if entry.context_window is not None:
        values["context_window"] = entry.context_window
    if entry.max_output is not None:
        values["max_tokens"] = entry.max_output
    return values


def _same(seeded: Any, mapped: Any) -> bool:
    if isinstance(mapped, Decimal) and isinstance(seeded, int | float | Decimal):
        return Decimal(str(seeded)) == mapped
    return bool(seeded == mapped)


def dump_seed(seed: Mapping[str, Any]) -> str:
    """The catalog as `seed_catalog.json` is written: two-space indents, a rule, a price
    tier or a source on one line."""

    def number(value: Any) -> Any:
        if isinstance(value, Decimal):
            return float(value)
        raise TypeError(f"{value!r} is not JSON")

    text = json.dumps(seed, indent=2, ensure_ascii=False, default=number)
    one_line = r'\{\s*"(?:power_level|above_tokens|price_map_key)"[^{}\[\]]*?\}'
    return re.sub(one_line, lambda m: json.dumps(json.loads(m.group(0))), text) + "\n"


def trimmed_map(raw: Mapping[str, Any], keys: set[str]) -> dict[str, Any]:
    """The map's entries for `keys` (those it has), in the map's order."""
    return {key: entry for key, entry in raw.items() if key in keys}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("price_map", type=Path, help="LiteLLM's map, read from its wheel")
    parser.add_argument("--version", required=True, help="the map's LiteLLM version")
    parser.add_argument("--as-of", type=date.fromisoformat, default=utcnow().date())
    parser.add_argument("--seed", type=Path, default=Path(__file__).with_name("seed_catalog.json"))
    parser.add_argument(
        "--fixture", type=Path, default=Path("tests/fixtures/price_map/model_prices.json")
    )
    args = parser.parse_args(argv)
    text = args.price_map.read_text("utf-8")
    price_map = load_price_map(text, source=str(args.price_map), providers=MAP_PROVIDERS)
    seed = json.loads(args.seed.read_text("utf-8"), parse_float=Decimal)
    notes = refresh_seed(seed, price_map, as_of=args.as_of)
    seed["price_map"] = {**seed.get("price_map", {}), "version": args.version}
    seed["price_map"]["read_on"] = args.as_of.isoformat()
    args.seed.write_text(dump_seed(seed), "utf-8")
    # The test copy keeps the entries it has (the tests' extra ones too) and the seed's.
    fixture = json.loads(args.fixture.read_text("utf-8")) if args.fixture.exists() else {}
    keys = set(fixture) | {key for _, _, key in seeded_entries(seed) if key}
    raw = json.loads(text)
    args.fixture.write_text(json.dumps(trimmed_map(raw, keys), indent=2) + "\n", "utf-8")
    for note in notes:
        print(f"decide: {note}")


if __name__ == "__main__":
    main()
