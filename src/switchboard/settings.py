"""Settings from the environment and a local `.env`: built by each entry point, passed down.

Every field is read from the environment variable of the same name in upper case
(`database_url` ← `DATABASE_URL`); the README's configuration table lists them. Providers'
system keys (`<SLUG>_API_KEY`, or the variable a provider's config names) are no fields, since
their names come from the catalog: `Settings.provider_key_environment()` reads them from the
same two places, in the same order.
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from dotenv import dotenv_values
from pydantic import BeforeValidator, Field, PrivateAttr, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from switchboard.address_policy import ProviderAddresses
from switchboard.limit_fields import LimitFields
from switchboard.logs import LogFormat, LogLevel
from switchboard.vocabulary import Tier, WhenRedisDown

DEFAULT_DATABASE_URL = "sqlite:///./data/switchboard.db"
DEFAULT_PRICE_MAP_URL = (
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
)


def _lower(value: object) -> object:
    return value.strip().lower() if isinstance(value, str) else value


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


class Settings(BaseSettings):
    """Every knob Switchboard reads. Environment variables win over `.env`."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    encryption_key: SecretStr | None = None
    admin_token: SecretStr | None = None
    _env_file_values: dict[str, str] = PrivateAttr(default_factory=dict)

    litellm_proxy_url: str | None = None
    litellm_master_key: SecretStr | None = None

    # Routing: the ceiling on a model's blended price at each power level, $ per 1M tokens.
    price_ceiling_eco: Decimal | None = Decimal("0.50")
    price_ceiling_balanced: Decimal | None = None
    price_ceiling_precision: Decimal | None = None

    # The gateway.
    host: str = "127.0.0.1"
    port: int = 8084
    spool_dir: Path = Path("./data/spool")
    max_request_bytes: int = 4 * 1024 * 1024
    max_attempts: int = 3
    request_timeout_s: float = 120.0
    connect_timeout_s: float = 5.0
    key_cache_ttl_s: float = 5.0
    catalog_poll_interval_s: float = 1.0
    usage_flush_interval_s: float = 0.5
    cooldown_failures: int = 3
    cooldown_s: float = 30.0

    # Budgets and rate limits (`limits`): with REDIS_URL, held across every process sharing
    # that Redis; without it, in this process only. TIER_LIMITS is JSON, per tier:
    # {"free": {"requests_per_minute": 20, "budget_usd": "5"}, …} (`limit_fields.LimitFields`).
    redis_url: str | None = None
    redis_key_prefix: str = "switchboard:"
    redis_timeout_s: float = Field(default=1.0, gt=0)
    limits_when_redis_down: Annotated[WhenRedisDown, BeforeValidator(_lower)] = WhenRedisDown.OPEN
    tier_limits: dict[Tier, LimitFields] = Field(default_factory=dict)
    limits_output_tokens_cap: int = Field(default=4096, ge=1)
    limits_reservation_margin_s: float = Field(default=30.0, ge=0)
    # Where provider URLs may point (they are called with the provider's key): `private`
    # allows public addresses, loopback and private ranges (a local Ollama or vLLM); `public`
    # only public ones; `any` also link-local and cloud metadata addresses. Checked when a
    # provider is stored and again on every connection (`address_policy`).
    provider_addresses: ProviderAddresses = ProviderAddresses.PRIVATE

    # Provider health checks: every active provider is probed once per interval (across all
    # replicas); 0 turns the background checker off. Slower answers than `degraded_ms` count
    # as degraded.
    health_check_interval_s: float = Field(default=60.0, ge=0)
    health_check_timeout_s: float = Field(default=10.0, gt=0)
    health_check_degraded_ms: int = Field(default=2000, ge=0)

    # The price sync (`switchboard catalog sync`, `POST …/catalog/sync`): where the price map
    # is, a path or an http(s) URL (LiteLLM's public map by default; an offline deployment
    # points at a copy); how long reading a URL may take; how often, in hours, one replica
    # syncs by itself (0: never, the default).
    price_map_source: str = DEFAULT_PRICE_MAP_URL
    price_map_timeout_s: float = Field(default=10.0, gt=0)
    price_sync_interval_h: float = Field(default=0.0, ge=0)

    # Alerts (`alerts`): rules are evaluated every ALERT_EVALUATION_INTERVAL_S on one replica
    # at a time (0: never; budget thresholds are also checked as soon as a request's cost
    # crosses them). Webhook deliveries are looked for every ALERT_DELIVERY_POLL_S by every
    # replica (each is sent by one), retried with exponential backoff from
    # ALERT_DELIVERY_BACKOFF_S up to ALERT_DELIVERY_MAX_BACKOFF_S, and given up
    # ALERT_DELIVERY_HORIZON_H hours after the alert was raised.
    alert_evaluation_interval_s: float = Field(default=60.0, ge=0)
    alert_delivery_poll_s: float = Field(default=2.0, gt=0)
    alert_delivery_timeout_s: float = Field(default=10.0, gt=0)
    alert_delivery_backoff_s: float = Field(default=5.0, gt=0)
    alert_delivery_max_backoff_s: float = Field(default=600.0, gt=0)
    alert_delivery_horizon_h: float = Field(default=24.0, gt=0)
    # The web console (/ui): how long a sign-in lasts, and how many failed sign-ins a client
    # may make before each further attempt must wait (doubling, up to a minute).
    console_session_ttl_s: float = Field(default=8 * 3600, gt=0)
    console_free_sign_in_failures: int = Field(default=3, ge=0)

    # Logs, on stderr: `text` (one line an event, `key=value` fields) or `json` (one object a
    # line). The access log (a line per gateway request) follows ACCESS_LOG, not LOG_LEVEL.
    log_format: Annotated[LogFormat, BeforeValidator(_lower)] = LogFormat.TEXT
    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = LogLevel.INFO
    access_log: bool = True

    # Prometheus metrics at `GET /metrics` (`metrics`): on unless METRICS_ENABLED is false;
    # with METRICS_TOKEN, only for `Authorization: Bearer <token>`. Under `switchboard serve`
    # the workers keep their values in METRICS_DIR (emptied at every start and at exit), else
    # in a new temporary directory for each start.
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    metrics_dir: Path | None = None

    def __init__(self, **values: Any) -> None:
        super().__init__(**values)
        env_file = values.get("_env_file", _UNSET)
        self._env_file_values = _read_env_files(
            self.model_config.get("env_file") if env_file is _UNSET else env_file,
            values.get("_env_file_encoding") or self.model_config.get("env_file_encoding"),
        )

    def provider_key_environment(self) -> Mapping[str, str]:
        """The variables providers' system keys are read from: the process environment over
        the values of the `.env` file these settings were read from (none when built with
        `_env_file=None`), the same two places, in the same order, as every setting."""
        return ChainMap(os.environ, self._env_file_values)


_UNSET: Any = object()


def _read_env_files(
    env_file: Path | str | Sequence[Path | str] | None, encoding: str | None
) -> dict[str, str]:
    """The variables of the env file(s), a later file winning, as pydantic-settings reads them."""
    if env_file is None:
        return {}
    paths = [env_file] if isinstance(env_file, str | Path) else list(env_file)
    values: dict[str, str] = {}
    for path in (Path(name).expanduser() for name in paths):
        if path.is_file():
            read = dotenv_values(path, encoding=encoding or "utf-8")
            values.update({name: value for name, value in read.items() if value is not None})
    return values
