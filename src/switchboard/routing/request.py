"""What the routing engine is asked: who (tier), how much model, for what, and what it needs."""

from __future__ import annotations

from dataclasses import dataclass

from switchboard.vocabulary import GENERAL_TASK, PowerLevel, Tier, normalize_task_type


@dataclass(frozen=True, slots=True)
class RouteRequest:
    user_tier: Tier
    power_level: PowerLevel
    task_type: str = GENERAL_TASK
    estimated_tokens: int | None = None
    require_streaming: bool = False
    require_function_calling: bool = False
    require_vision: bool = False
    require_json_mode: bool = False
    max_output_tokens: int | None = None
    """The most tokens the answer may have, as the client asked (`max_tokens`); part of
    `estimated_tokens` too. A model whose own output limit is lower cannot serve it."""

    @classmethod
    def parse(
        cls,
        *,
        user_tier: str,
        power_level: str,
        task_type: str | None = GENERAL_TASK,
        estimated_tokens: int | None = None,
        require_streaming: bool = False,
        require_function_calling: bool = False,
        require_vision: bool = False,
        require_json_mode: bool = False,
    ) -> RouteRequest:
        """Build from plain strings, with a ValueError that names a bad value."""
        try:
            tier = Tier(user_tier)
        except ValueError:
            raise ValueError(
                f"unknown user_tier {user_tier!r}: expected one of {', '.join(Tier)}"
            ) from None
        try:
            power = PowerLevel(power_level)
        except ValueError:
            raise ValueError(
                f"unknown power_level {power_level!r}: expected one of {', '.join(PowerLevel)}"
            ) from None
        if estimated_tokens is not None and (
            isinstance(estimated_tokens, bool)
            or not isinstance(estimated_tokens, int)
            or estimated_tokens < 0
        ):
            raise ValueError(
                f"estimated_tokens must be a non-negative integer, got {estimated_tokens!r}"
            )
        return cls(
            user_tier=tier,
            power_level=power,
            task_type=normalize_task_type(task_type),
            estimated_tokens=estimated_tokens,
            require_streaming=require_streaming,
            require_function_calling=require_function_calling,
            require_vision=require_vision,
            require_json_mode=require_json_mode,
        )

    @property
    def prompt_tokens(self) -> int | None:
        """The prompt's share of `estimated_tokens`: what a model's price tier depends on."""
        if self.estimated_tokens is None:
            return None
        return max(self.estimated_tokens - (self.max_output_tokens or 0), 0)

    @property
    def needs(self) -> tuple[bool, bool, bool, bool]:
        return (
            self.require_streaming,
            self.require_function_calling,
            self.require_vision,
            self.require_json_mode,
        )
