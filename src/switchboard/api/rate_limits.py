"""Budgets and rate limits as the clients see them: the rate-limit headers of each surface,
and the answer to a refused request.

OpenAI's headers: `x-ratelimit-limit-requests`, `x-ratelimit-remaining-requests`,
`x-ratelimit-reset-requests` (a duration: `1s`, `6m0s`, `250ms`) and the same for tokens.
Anthropic's: `anthropic-ratelimit-requests-limit`, `-remaining`, `-reset` (an RFC 3339
time) and the same for tokens. Where a user's and a key's limits both apply, the one with
less left is shown. A refusal is a 429 with `Retry-After`: over a rate limit, OpenAI's
`rate_limit_exceeded` (type `requests` or `tokens`); over a budget, `insufficient_quota`,
naming the budget, what is left of it and what the request may cost; on `/v1/messages` the
same message in Anthropic's error format.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

from switchboard.api.errors import ApiError
from switchboard.limits import (
    Decision,
    LimitKind,
    LimitRefusedError,
    LimitsUnavailableError,
    RateStatus,
    Refusal,
    to_dollars,
)


def rate_limit_headers(decision: Decision | None, *, anthropic: bool) -> dict[str, str]:
    if decision is None:
        return {}
    tightest: dict[LimitKind, RateStatus] = {}
    for status in decision.rates:
        kept = tightest.get(status.kind)
        if kept is None or status.remaining < kept.remaining:
            tightest[status.kind] = status
    headers = {}
    for kind, status in tightest.items():
        remaining = max(0, status.remaining)
        if anthropic:
            reset = datetime.fromtimestamp(decision.now_ms / 1000, UTC) + timedelta(
                milliseconds=status.reset_ms
            )
            prefix = f"anthropic-ratelimit-{kind}"
            headers[f"{prefix}-limit"] = str(status.limit)
            headers[f"{prefix}-remaining"] = str(remaining)
            headers[f"{prefix}-reset"] = reset.strftime("%Y-%m-%dT%H:%M:%SZ")
        else:
            headers[f"x-ratelimit-limit-{kind}"] = str(status.limit)
            headers[f"x-ratelimit-remaining-{kind}"] = str(remaining)
            headers[f"x-ratelimit-reset-{kind}"] = duration(status.reset_ms)
    return headers


def duration(ms: int) -> str:
    """A duration as OpenAI writes it: `250ms`, `1.5s`, `6m0s`."""
    if ms < 1000:
        return f"{max(0, ms)}ms"
    minutes, rest_ms = divmod(ms, 60_000)
    seconds = f"{rest_ms / 1000:.3f}".rstrip("0").rstrip(".")
    return f"{minutes}m{seconds}s" if minutes else f"{seconds}s"


def refused(error: LimitRefusedError, *, anthropic: bool) -> ApiError:
    refusal = error.refusal
    headers = {
        **rate_limit_headers(error.decision, anthropic=anthropic),
        "retry-after": str(max(1, math.ceil(refusal.retry_after_ms / 1000))),
    }
    if refusal.kind is LimitKind.BUDGET:
        return ApiError(
            429,
            _budget_message(refusal, error.decision),
            code="insufficient_quota",
            openai_type="insufficient_quota",
            headers=headers,
        )
    if refusal.kind is LimitKind.CONCURRENCY:
        message = (
            f"Too many concurrent requests on key {refusal.owner}: at most {refusal.limit} at "
            "once. Please try again when one has finished."
        )
        return ApiError(
            429, message, code="concurrency_limit_exceeded", openai_type="requests", headers=headers
        )
    unit = (
        "requests per minute (RPM)"
        if refusal.kind is LimitKind.REQUESTS
        else ("tokens per minute (TPM)")
    )
    message = (
        f"Rate limit reached for {unit} on {refusal.scope} {refusal.owner}: limit "
        f"{refusal.limit}, remaining {refusal.remaining}, requested {refusal.needed}. "
        f"Please try again in {duration(refusal.retry_after_ms)}."
    )
    return ApiError(
        429, message, code="rate_limit_exceeded", openai_type=str(refusal.kind), headers=headers
    )


def unavailable(error: LimitsUnavailableError) -> ApiError:
    return ApiError(503, str(error), code="limits_unavailable", headers={"retry-after": "1"})


def _budget_message(refusal: Refusal, decision: Decision) -> str:
    period = next(
        (
            status.account.period
            for status in decision.budgets
            if status.account.scope is refusal.scope and status.account.owner == refusal.owner
        ),
        None,
    )
    resets = datetime.now(UTC) + timedelta(milliseconds=refusal.retry_after_ms)
    per = f" a {_PERIOD_NOUN.get(str(period), str(period))}" if period is not None else ""
    return (
        f"You exceeded your current quota: the {refusal.scope} budget of "
        f"{refusal.scope} {refusal.owner} (${to_dollars(refusal.limit).normalize():f}{per}) has "
        f"${to_dollars(refusal.remaining).normalize():f} left, and this request may cost up to "
        f"${to_dollars(refusal.needed).normalize():f}. It resets at "
        f"{resets:%Y-%m-%dT%H:%M:%SZ}."
    )


_PERIOD_NOUN = {"daily": "day", "weekly": "week", "monthly": "month"}
