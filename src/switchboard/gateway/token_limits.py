"""`TokenLimitError`: no model that could serve a request takes as many tokens as it asks for.

That is the client's to fix, not the gateway's to retry: a 400 in OpenAI's words (which a
`/v1/messages` client gets in Anthropic's format), naming the parameter and the most that any
of those models takes, rather than the 503 of a request nothing is configured for. Which
limit stopped it, and that limit, come from routing (`routing.limits`); token counts are the
gateway's estimate (`gateway.estimate`), hence "about".
"""

from __future__ import annotations

from switchboard.gateway.executor import NoRouteError, Trail
from switchboard.providers.base import JSON
from switchboard.routing import RouteRequest, TokenMisfit
from switchboard.routing.reasons import Rejection


class TokenLimitError(NoRouteError):
    """The request is too large for every model that could otherwise serve it. `param` and
    `code` are OpenAI's: `max_tokens` (or `max_completion_tokens`, as the client sent it) and
    `invalid_value` for the answer's size, `messages` and `context_length_exceeded` for the
    whole request's."""

    def __init__(self, misfit: TokenMisfit, request: RouteRequest, body: JSON) -> None:
        output = request.max_output_tokens or 0
        if misfit.reason is Rejection.OUTPUT_TOO_SMALL:
            # `max_tokens` in the text, as both APIs call it; `param` is the field as sent.
            sent_as = "max_completion_tokens" if "max_completion_tokens" in body else "max_tokens"
            self.param = sent_as
            self.code = "invalid_value"
            message = (
                f"max_tokens is too large: {output}. The models available for this request "
                f"support at most {misfit.limit} completion tokens, whereas you provided "
                f"{output}."
            )
        else:
            self.param = "messages"
            self.code = "context_length_exceeded"
            message = (
                f"The largest context available for this request is {misfit.limit} tokens. "
                f"However, you requested about {misfit.requested} tokens "
                f"({misfit.requested - output} in the messages, {output} in the completion). "
                "Please reduce the length of the messages or completion."
            )
        super().__init__(message, Trail())
        self.misfit = misfit


def raise_if_too_large(misfit: TokenMisfit | None, request: RouteRequest, body: JSON) -> None:
    if misfit is not None:
        raise TokenLimitError(misfit, request, body)
