"""Rows for the limits' end-to-end tests, made with the models directly: a provider at the
fake upstream with one priced model and its rule, and users with a virtual key each."""

from __future__ import annotations

import secrets
from decimal import Decimal

from sqlalchemy.orm import Session

from switchboard.models import User, VirtualKey
from switchboard.secrets import SecretManager, hash_virtual_key
from switchboard.vocabulary import Tier
from tests.e2e.catalog_rows import CatalogRows


def add_catalog(
    session: Session,
    cipher: SecretManager,
    *,
    slug: str,
    base_url: str,
    model_id: str,
    input_price: str = "1",
    output_price: str = "2",
    max_output_tokens: int | None = None,
) -> str:
    """A provider at `base_url`, a model at the prices ($ per 1M tokens) and its rule."""
    rows = CatalogRows(session, cipher, base_url)
    model = rows.model(
        rows.provider(slug),
        model_id,
        input_price=input_price,
        output_price=output_price,
        max_output_tokens=max_output_tokens,
    )
    rows.rule(model)
    return model_id


def add_user(
    session: Session,
    user_id: str,
    *,
    tier: Tier = Tier.FREE,
    budget: Decimal | None = None,
    key_requests_per_minute: int | None = None,
) -> tuple[str, int]:
    """A user and a virtual key for them: the key and its id."""
    session.add(User(id=user_id, tier=str(tier), monthly_budget_usd=budget))
    key = "sk-sb-" + secrets.token_urlsafe(32)
    row = VirtualKey(
        user_id=user_id,
        key_hash=hash_virtual_key(key),
        key_prefix=key[:12],
        requests_per_minute=key_requests_per_minute,
    )
    session.add(row)
    session.flush()
    return key, row.id
