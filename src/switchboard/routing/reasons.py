"""Why a model cannot serve a request: one closed vocabulary, used by `plan` and `explain`."""

from __future__ import annotations

import enum


class Rejection(enum.StrEnum):
    MODEL_INACTIVE = "inactive"
    PROVIDER_INACTIVE = "provider inactive"
    DEPRECATED = "deprecated"
    INVALID_CONFIG = "invalid configuration"
    TIER_TOO_LOW = "tier too low"
    PRICE_CEILING = "price ceiling"
    CAPABILITY_MISSING = "capability missing"
    CONTEXT_TOO_SMALL = "context window too small"
    OUTPUT_TOO_SMALL = "max output too small"
    NO_MATCHING_RULE = "no matching rule"
    TASK_MISMATCH = "task type mismatch"
    TOKEN_BOUNDS = "token bounds"
    BYOK_REQUIRED = "BYOK required but absent"
