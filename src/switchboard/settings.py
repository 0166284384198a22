"""Settings from the environment and a local `.env`: built by each entry point, passed down."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///./data/switchboard.db"


class Settings(BaseSettings):
    """Every knob Switchboard reads. Environment variables win over `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = Field(default=DEFAULT_DATABASE_URL, validation_alias="DATABASE_URL")
    encryption_key: SecretStr | None = Field(default=None, validation_alias="ENCRYPTION_KEY")
    admin_token: SecretStr | None = Field(default=None, validation_alias="ADMIN_TOKEN")
    litellm_proxy_url: str | None = Field(default=None, validation_alias="LITELLM_PROXY_URL")
    litellm_master_key: SecretStr | None = Field(
        default=None, validation_alias="LITELLM_MASTER_KEY"
    )
    price_ceiling_eco: Decimal | None = Field(
        default=Decimal("0.50"), validation_alias="PRICE_CEILING_ECO"
    )
    price_ceiling_balanced: Decimal | None = Field(
        default=None, validation_alias="PRICE_CEILING_BALANCED"
    )
    price_ceiling_precision: Decimal | None = Field(
        default=None, validation_alias="PRICE_CEILING_PRECISION"
    )
