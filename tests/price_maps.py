"""The test copy of LiteLLM's price map, and copies of it with one price changed."""

from __future__ import annotations

import json
from pathlib import Path

PRICE_MAP = Path(__file__).parent / "fixtures" / "price_map" / "model_prices.json"


def price_map_with(folder: Path, model: str, field: str, value: object) -> Path:
    """A copy of the test map in `folder`, with `field` of `model`'s entry set to `value`."""
    document = json.loads(PRICE_MAP.read_text("utf-8"))
    document[model][field] = value
    path = folder / "map.json"
    path.write_text(json.dumps(document))
    return path
