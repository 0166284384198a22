"""The HTTP app in-process (FastAPI's TestClient runs its lifespan), on the test's database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from switchboard.api.app import create_app
from switchboard.db import open_database
from switchboard.settings import Settings
from tests.price_maps import PRICE_MAP

ADMIN_TOKEN = "sb-admin-test-token-0123456789"


@pytest.fixture
def app_settings(database_url: str, tmp_path: Path, clean_environment: str) -> Settings:
    open_database(database_url).kw["bind"].dispose()  # migrate
    return Settings(
        _env_file=None,
        database_url=database_url,
        admin_token=SecretStr(ADMIN_TOKEN),
        encryption_key=SecretStr(clean_environment),
        spool_dir=tmp_path / "spool",
        catalog_poll_interval_s=0.2,
        usage_flush_interval_s=0.1,
        key_cache_ttl_s=0.5,
        price_map_source=str(PRICE_MAP),  # never the network
    )


@pytest.fixture
def client(app_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings)) as test_client:
        yield test_client


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
