"""llm_models: a cache-write price, long-context price tiers, and who set the prices

`cost_per_1m_cache_write_tokens` is a model's own price for a five-minute prompt-cache write
(empty: 1.25× input, as before); `price_tiers` the prices above a prompt size (Gemini over
200k tokens, OpenAI over 272k). The price history keeps both. `price_source` says who set
the prices: `seed`, `sync` (the price sync) or `manual`. Seeding and the sync change only
their own prices.

Rows stored before are `manual`, except models the starter catalog of June 2025 created and
nobody repriced since: their (provider, model id) and prices are that catalog's, and they
have no price history (seeding wrote none; every admin change opened a period). Those are
`seed`, so that seeding the current catalog brings their stale prices up to date.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JUNE_2025_SEED: tuple[tuple[str, str, str, str | None, str], ...] = (
    # (provider slug, model id, input, cached input, output), dollars per 1M tokens.
    ("openai", "gpt-4.1-nano", "0.1", "0.025", "0.4"),
    ("openai", "gpt-4o-mini", "0.15", "0.075", "0.6"),
    ("openai", "gpt-4.1-mini", "0.4", "0.1", "1.6"),
    ("openai", "gpt-4.1", "2.0", "0.5", "8.0"),
    ("openai", "o4-mini", "1.1", "0.275", "4.4"),
    ("openai", "gpt-4o", "2.5", "1.25", "10.0"),
    ("anthropic", "claude-3-5-haiku-20241022", "0.8", "0.08", "4.0"),
    ("anthropic", "claude-sonnet-4-20250514", "3.0", "0.3", "15.0"),
    ("anthropic", "claude-opus-4-20250514", "15.0", "1.5", "75.0"),
    ("gemini", "gemini-2.0-flash", "0.1", "0.025", "0.4"),
    ("gemini", "gemini-2.5-flash-lite", "0.1", "0.025", "0.4"),
    ("gemini", "gemini-2.5-flash", "0.3", "0.075", "2.5"),
    ("gemini", "gemini-2.5-pro", "1.25", "0.31", "10.0"),
    ("groq", "llama-3.1-8b-instant", "0.05", None, "0.08"),
    ("groq", "llama-3.3-70b-versatile", "0.59", None, "0.79"),
    ("mistral", "mistral-small-latest", "0.1", None, "0.3"),
    ("mistral", "codestral-latest", "0.3", None, "0.9"),
    ("mistral", "mistral-medium-latest", "0.4", None, "2.0"),
    ("mistral", "mistral-large-latest", "2.0", None, "6.0"),
    ("deepseek", "deepseek-chat", "0.27", "0.07", "1.1"),
    ("deepseek", "deepseek-reasoner", "0.55", "0.14", "2.19"),
    ("local", "llama3.1:8b", "0", None, "0"),
    ("local", "qwen2.5-coder:7b", "0", None, "0"),
    ("litellm", "litellm-eco", "0", None, "0"),
    ("litellm", "litellm-balanced", "0", None, "0"),
    ("litellm", "litellm-precision", "0", None, "0"),
    ("mock", "mock-eco", "0.1", "0.05", "0.4"),
    ("mock", "mock-balanced", "1.0", "0.5", "4.0"),
    ("mock", "mock-precision", "5.0", "2.5", "15.0"),
)
_PLACES = Decimal("0.000001")


def upgrade() -> None:
    op.add_column(
        "llm_models",
        sa.Column("cost_per_1m_cache_write_tokens", sa.Numeric(14, 6), nullable=True),
    )
    op.add_column("llm_models", sa.Column("price_tiers", sa.JSON(), nullable=True))
    op.add_column(
        "llm_models",
        sa.Column("price_source", sa.String(length=10), nullable=False, server_default="manual"),
    )
    op.add_column(
        "llm_model_price_history",
        sa.Column("cost_per_1m_cache_write_tokens", sa.Numeric(14, 6), nullable=True),
    )
    op.add_column("llm_model_price_history", sa.Column("price_tiers", sa.JSON(), nullable=True))
    _mark_seeded_prices()


def downgrade() -> None:
    with op.batch_alter_table("llm_model_price_history") as batch_op:
        batch_op.drop_column("price_tiers")
        batch_op.drop_column("cost_per_1m_cache_write_tokens")
    with op.batch_alter_table("llm_models") as batch_op:
        batch_op.drop_column("price_source")
        batch_op.drop_column("price_tiers")
        batch_op.drop_column("cost_per_1m_cache_write_tokens")


def _mark_seeded_prices() -> None:
    """Compared in Python: SQLite stores prices as REAL, PostgreSQL as NUMERIC."""
    seeded = {
        (slug, model_id): tuple(_price(value) for value in prices)
        for slug, model_id, *prices in _JUNE_2025_SEED
    }
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT m.id, p.provider_slug, m.model_id, m.cost_per_1m_input_tokens,"
            " m.cost_per_1m_cached_input_tokens, m.cost_per_1m_output_tokens"
            " FROM llm_models m JOIN llm_providers p ON p.id = m.provider_id"
            " WHERE NOT EXISTS"
            " (SELECT 1 FROM llm_model_price_history h WHERE h.model_id = m.id)"
        )
    )
    ids = [
        row_id
        for row_id, slug, model_id, *prices in rows
        if seeded.get((slug, model_id)) == tuple(_price(value) for value in prices)
    ]
    if ids:
        connection.execute(
            sa.text("UPDATE llm_models SET price_source = 'seed' WHERE id IN :ids").bindparams(
                sa.bindparam("ids", expanding=True)
            ),
            {"ids": ids},
        )


def _price(value: object) -> Decimal | None:
    if value is None:
        return None
    return Decimal(repr(value) if isinstance(value, float) else str(value)).quantize(_PLACES)
