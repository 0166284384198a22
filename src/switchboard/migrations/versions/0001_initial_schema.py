"""Create the LLM catalog, users, keys and usage tables

Revision ID: 0001
Revises:
Create Date: 2026-11-27 01:45:39.094322
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "llm_providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_name", sa.String(length=100), nullable=False),
        sa.Column("provider_slug", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("api_format", sa.String(length=32), nullable=True),
        sa.Column("auth_type", sa.String(length=20), nullable=False),
        sa.Column("encrypted_api_key", sa.Text(), nullable=True),
        sa.Column("api_key_prefix", sa.String(length=16), nullable=True),
        sa.Column("api_key_suffix", sa.String(length=8), nullable=True),
        sa.Column("supports_streaming", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "supports_function_calling", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("supports_vision", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_byok_supported", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_system_provider", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("api_key_format", sa.String(length=100), nullable=True),
        sa.Column("documentation_url", sa.String(length=500), nullable=True),
        sa.Column("pricing_url", sa.String(length=500), nullable=True),
        sa.Column("min_tier_required", sa.String(length=20), nullable=False),
        sa.Column("health_status", sa.String(length=20), nullable=False),
        sa.Column("last_health_check_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("health_latency_ms", sa.Integer(), nullable=True),
        sa.Column("health_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_providers")),
        sa.UniqueConstraint("provider_slug", name=op.f("uq_llm_providers_provider_slug")),
    )
    op.create_table(
        "llm_users",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("monthly_budget_usd", sa.Numeric(precision=20, scale=10), nullable=True),
        sa.Column("default_power_level", sa.String(length=20), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_users")),
    )
    op.create_table(
        "llm_models",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=200), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("display_name", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("max_tokens", sa.Integer(), nullable=True),
        sa.Column("context_window", sa.Integer(), nullable=True),
        sa.Column("supports_streaming", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column(
            "supports_function_calling", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
        sa.Column("supports_vision", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("supports_json_mode", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("cost_per_1m_input_tokens", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column("cost_per_1m_output_tokens", sa.Numeric(precision=14, scale=6), nullable=False),
        sa.Column(
            "cost_per_1m_cached_input_tokens", sa.Numeric(precision=14, scale=6), nullable=True
        ),
        sa.Column("power_level", sa.String(length=20), nullable=False),
        sa.Column("power_level_priority", sa.Integer(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_deprecated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("deprecation_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replacement_model_id", sa.Integer(), nullable=True),
        sa.Column("min_tier_required", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["llm_providers.id"],
            name=op.f("fk_llm_models_provider_id_llm_providers"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["replacement_model_id"],
            ["llm_models.id"],
            name=op.f("fk_llm_models_replacement_model_id_llm_models"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_models")),
        sa.UniqueConstraint("provider_id", "model_id", name="uq_llm_models_provider_id_model_id"),
    )
    with op.batch_alter_table("llm_models", schema=None) as batch_op:
        batch_op.create_index("ix_llm_models_model_id", ["model_id"], unique=False)
        batch_op.create_index(
            "ix_llm_models_power_level_active", ["power_level", "is_active"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_llm_models_provider_id"), ["provider_id"], unique=False
        )

    op.create_table(
        "llm_virtual_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_revoked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["llm_users.id"],
            name=op.f("fk_llm_virtual_keys_user_id_llm_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_virtual_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_llm_virtual_keys_key_hash")),
    )
    with op.batch_alter_table("llm_virtual_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_llm_virtual_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "user_api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("key_name", sa.String(length=200), nullable=True),
        sa.Column("encrypted_api_key", sa.Text(), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=True),
        sa.Column("key_suffix", sa.String(length=8), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_validated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("validation_error", sa.Text(), nullable=True),
        sa.Column("last_validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["llm_providers.id"],
            name=op.f("fk_user_api_keys_provider_id_llm_providers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_api_keys")),
    )
    with op.batch_alter_table("user_api_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_user_api_keys_user_provider", ["user_id", "provider_id"], unique=False
        )

    op.create_table(
        "llm_routing_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("power_level", sa.String(length=20), nullable=False),
        sa.Column("user_tier", sa.String(length=20), nullable=True),
        sa.Column("task_type", sa.String(length=50), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("weight", sa.Integer(), nullable=False),
        sa.Column("min_tokens", sa.Integer(), nullable=True),
        sa.Column("max_tokens", sa.Integer(), nullable=True),
        sa.Column("requires_byok", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_fallback", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["llm_models.id"],
            name=op.f("fk_llm_routing_rules_model_id_llm_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_routing_rules")),
    )
    with op.batch_alter_table("llm_routing_rules", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_llm_routing_rules_model_id"), ["model_id"], unique=False
        )
        batch_op.create_index("ix_llm_routing_rules_power_level", ["power_level"], unique=False)
        batch_op.create_index(
            "ix_llm_routing_rules_tier_active", ["user_tier", "is_active"], unique=False
        )

    op.create_table(
        "llm_usage_logs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("provider_id", sa.Integer(), nullable=True),
        sa.Column("model_name", sa.String(length=200), nullable=True),
        sa.Column("power_level", sa.String(length=20), nullable=True),
        sa.Column("task_type", sa.String(length=50), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("usage_estimated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("cost_input_usd", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("cost_cached_usd", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("cost_output_usd", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("cost_total_usd", sa.Numeric(precision=20, scale=10), nullable=False),
        sa.Column("used_byok", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("user_key_id", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=True),
        sa.Column("time_to_first_token_ms", sa.Integer(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error_type", sa.String(length=100), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("request_ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["llm_models.id"],
            name=op.f("fk_llm_usage_logs_model_id_llm_models"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["provider_id"],
            ["llm_providers.id"],
            name=op.f("fk_llm_usage_logs_provider_id_llm_providers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_key_id"],
            ["user_api_keys.id"],
            name=op.f("fk_llm_usage_logs_user_key_id_user_api_keys"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_llm_usage_logs")),
        sa.UniqueConstraint("request_id", name=op.f("uq_llm_usage_logs_request_id")),
    )
    with op.batch_alter_table("llm_usage_logs", schema=None) as batch_op:
        batch_op.create_index("ix_llm_usage_logs_created_at", ["created_at"], unique=False)
        batch_op.create_index(
            "ix_llm_usage_logs_model_created", ["model_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_llm_usage_logs_user_created", ["user_id", "created_at"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("llm_usage_logs", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_usage_logs_user_created")
        batch_op.drop_index("ix_llm_usage_logs_model_created")
        batch_op.drop_index("ix_llm_usage_logs_created_at")

    op.drop_table("llm_usage_logs")
    with op.batch_alter_table("llm_routing_rules", schema=None) as batch_op:
        batch_op.drop_index("ix_llm_routing_rules_tier_active")
        batch_op.drop_index("ix_llm_routing_rules_power_level")
        batch_op.drop_index(batch_op.f("ix_llm_routing_rules_model_id"))

    op.drop_table("llm_routing_rules")
    with op.batch_alter_table("user_api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_user_api_keys_user_provider")

    op.drop_table("user_api_keys")
    with op.batch_alter_table("llm_virtual_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_virtual_keys_user_id"))

    op.drop_table("llm_virtual_keys")
    with op.batch_alter_table("llm_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_llm_models_provider_id"))
        batch_op.drop_index("ix_llm_models_power_level_active")
        batch_op.drop_index("ix_llm_models_model_id")

    op.drop_table("llm_models")
    op.drop_table("llm_users")
    op.drop_table("llm_providers")
