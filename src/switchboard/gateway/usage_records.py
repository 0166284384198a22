"""Building the usage record of a gateway request: served, failed, or cut off."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from switchboard.gateway.executor import Keys, Served, Trail
from switchboard.gateway.keys import Principal
from switchboard.gateway.limits_gate import RequestGate
from switchboard.gateway.timing import elapsed_ms
from switchboard.pricing import calculate_cost
from switchboard.providers import Usage
from switchboard.routing import RoutePlan
from switchboard.usage.record import UsageRecord
from switchboard.vocabulary import ApiSurface, KeySource, PowerLevel


class RequestIds:
    """Request ids: `req_` and 128 random bits in hex (a uuid4's worth), from a generator
    seeded from the system's randomness, and seeded again in a forked child so that no two
    processes share a sequence. Not a system call per id: that one lets go of the GIL, and
    whenever the usage writer was busy, taking it back cost more than the rest of the id
    (request ids are unique, not secret)."""

    def __init__(self) -> None:
        self._random = random.Random()
        self._pid = os.getpid()

    def new(self) -> str:
        if os.getpid() != self._pid:
            self._random.seed()
            self._pid = os.getpid()
        return f"req_{self._random.getrandbits(128):032x}"


@dataclass(frozen=True, slots=True)
class RequestMeta:
    request_id: str
    client_ip: str | None
    user_agent: str | None
    started: float
    """`time.perf_counter()` when the request arrived."""
    surface: ApiSurface = ApiSurface.OPENAI


@dataclass(frozen=True, slots=True)
class Route:
    plan: RoutePlan
    keys: Keys
    power_level: PowerLevel | None
    """None when the client named its models."""
    task_type: str
    gate: RequestGate | None = None
    """The request's budgets and rate limits, checked before each candidate is called (None:
    no limit applies)."""


def record_for(
    meta: RequestMeta,
    principal: Principal,
    route: Route,
    served: Served,
    usage: Usage,
    *,
    estimated: bool,
    status_code: int,
    error_type: str | None = None,
    error_message: str | None = None,
    first_token_at: float | None = None,
) -> UsageRecord:
    """The record of a request a provider answered (or began to answer)."""
    model = served.candidate.model
    # A provider's counts are taken as they are, but never as more cache than prompt.
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    costs = calculate_cost(
        input_price=model.input_price,
        output_price=model.output_price,
        cached_input_price=model.cached_input_price,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cached_tokens=cached,
        cache_write_tokens=written,
        cache_write_1h_tokens=min(usage.cache_write_1h_tokens, written),
        cache_write_price=model.cache_write_price,
        tiers=model.price_tiers,
    )
    power = route.power_level or model.power_level
    return UsageRecord.with_costs(
        costs,
        request_id=meta.request_id,
        user_id=principal.user_id,
        model_id=model.id,
        provider_id=model.provider_id,
        model_name=model.model_id,
        power_level=str(power) if power else None,
        user_tier=str(principal.tier),
        task_type=route.task_type,
        prompt_tokens=usage.prompt_tokens,
        cached_tokens=cached,
        cache_write_tokens=written,
        completion_tokens=usage.completion_tokens,
        usage_estimated=estimated,
        used_byok=served.key_source is KeySource.BYOK,
        user_key_id=served.byok_key_id,
        virtual_key_id=principal.key_id,
        latency_ms=elapsed_ms(meta.started),
        time_to_first_token_ms=(
            round((first_token_at - meta.started) * 1000) if first_token_at is not None else None
        ),
        status_code=status_code,
        error_type=error_type,
        error_message=error_message,
        attempts=max(1, served.trail.attempts),
        request_ip=meta.client_ip,
        user_agent=meta.user_agent,
    )


def failure_record(
    meta: RequestMeta,
    principal: Principal,
    *,
    status_code: int,
    error_type: str,
    error_message: str,
    route: Route | None = None,
    trail: Trail | None = None,
    served: Served | None = None,
) -> UsageRecord:
    """The record of a request no provider answered: nothing to bill, everything to know.
    `served` is the candidate that refused the request, when one did (a 4xx)."""
    model = served.candidate.model if served is not None else None
    return UsageRecord(
        request_id=meta.request_id,
        user_id=principal.user_id,
        model_id=model.id if model is not None else None,
        provider_id=model.provider_id if model is not None else None,
        model_name=model.model_id if model is not None else None,
        used_byok=served is not None and served.key_source is KeySource.BYOK,
        user_key_id=served.byok_key_id if served is not None else None,
        power_level=str(route.power_level) if route and route.power_level else None,
        user_tier=str(principal.tier),
        task_type=route.task_type if route else None,
        virtual_key_id=principal.key_id,
        latency_ms=elapsed_ms(meta.started),
        status_code=status_code,
        error_type=error_type,
        error_message=error_message[:1000],
        attempts=trail.attempts if trail else 0,
        request_ip=meta.client_ip,
        user_agent=meta.user_agent,
    )
