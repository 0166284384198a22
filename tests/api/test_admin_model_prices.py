"""A model's prices through the admin API: a cache-write price, its long-context tiers (set by
seeding and the price sync, shown here), and who set them (`price_source`), each kept in the
price history."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from switchboard.models import LLMModel
from switchboard.models.catalog import prices_written_by
from switchboard.vocabulary import PriceSource
from tests.api.catalog_calls import ADMIN, add_model, add_provider, field_errors


def test_cache_write_price_and_tiers_are_shown_and_kept_in_history(
    client: TestClient, admin_headers: dict[str, str], db: Session
) -> None:
    provider = add_provider(client, admin_headers, "gemini")
    model = add_model(
        client,
        admin_headers,
        provider["id"],
        "gemini-pro",
        cost_per_1m_input_tokens="1.25",
        cost_per_1m_output_tokens=10,
        cost_per_1m_cache_write_tokens="1.5",
    )
    assert (model["price_source"], model["cost_per_1m_cache_write_tokens"]) == ("manual", "1.5")
    row = db.get(LLMModel, model["id"])
    assert row is not None
    with prices_written_by(db, PriceSource.SYNC):  # as the price sync writes them
        row.price_tiers = [{"above_tokens": 200000, "input_price": "2.5", "output_price": "15"}]
        db.commit()
    url = f"{ADMIN}/models/{model['id']}"
    shown = client.get(url, headers=admin_headers).json()
    assert shown["price_source"] == "sync"
    assert shown["price_tiers"] == [
        {
            "above_tokens": 200000,
            "input_price": "2.5",
            "output_price": "15",
            "cached_input_price": None,
            "cache_write_price": None,
        }
    ]
    answer = client.patch(url, headers=admin_headers, json={"cost_per_1m_cache_write_tokens": 2})
    assert answer.status_code == 200, answer.text
    periods = client.get(f"{url}/prices", headers=admin_headers).json()
    assert [p["cost_per_1m_cache_write_tokens"] for p in periods] == ["1.5", "2"]
    assert periods[1]["price_tiers"][0]["above_tokens"] == 200000


def test_a_price_change_makes_the_prices_manual_unless_it_says_otherwise(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    provider = add_provider(client, admin_headers, "openai")
    model = add_model(client, admin_headers, provider["id"], "m", cost_per_1m_input_tokens=1)
    url = f"{ADMIN}/models/{model['id']}"
    answer = client.patch(url, headers=admin_headers, json={"price_source": "sync"})
    assert answer.json()["price_source"] == "sync"
    answer = client.patch(url, headers=admin_headers, json={"cost_per_1m_input_tokens": 2})
    assert answer.json()["price_source"] == "manual"
    answer = client.patch(
        url, headers=admin_headers, json={"cost_per_1m_input_tokens": 3, "price_source": "sync"}
    )
    assert answer.json()["price_source"] == "sync"


def test_malformed_tiers_and_sources_are_refused(
    client: TestClient, admin_headers: dict[str, str]
) -> None:
    provider = add_provider(client, admin_headers, "openai")
    model = add_model(client, admin_headers, provider["id"], "m")
    url = f"{ADMIN}/models/{model['id']}"
    for body, field in [
        ({"cost_per_1m_cache_write_tokens": -1}, "cost_per_1m_cache_write_tokens"),
        ({"price_tiers": []}, "price_tiers"),  # set by seeding and the price sync only
        ({"price_source": "nobody"}, "price_source"),
        ({"price_source": None}, "price_source"),
    ]:
        answer = client.patch(url, headers=admin_headers, json=body)
        assert answer.status_code == 422, body
        assert any(field in location for location in field_errors(answer)), answer.text
