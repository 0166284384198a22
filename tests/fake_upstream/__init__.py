"""One programmable fake upstream for every test that needs a provider on the other end of a
real socket: a server on 127.0.0.1 that speaks OpenAI's wire format (Chat Completions, SSE with
the usage in a last chunk, `[DONE]`) or Anthropic's (the Messages API and its event stream),
and records every request it receives (`Received`: method, path, query, headers, body, and
whether the caller hung up).

What it answers is scripted per model, or per path for requests without one: `set_default`
for every call, `script` for the next ones; unscripted calls get the wire's default `Reply()`
or `AnthropicReply()`, or the fake's own `default` (a `redirect(...)` for every request, say).
A reply can be an error in the wire's format (any status, `Retry-After`, a message that repeats
the credential it received), a late answer, a dropped connection, a stream that is cut, ends
early or carries an error event after some chunks, or a body sent verbatim (`raw`,
`json_reply`, `stream_reply`: an HTML error page, a recorded answer). With `api_keys` it
refuses other callers as its wire would.

`running_fake_upstream()` serves from a background thread, so synchronous tests can use it;
`async with FakeUpstream().serving()` serves on the test's own event loop.
"""

from tests.fake_upstream._anthropic import AnthropicReply, ToolUse
from tests.fake_upstream._openai import Reply, ToolCall
from tests.fake_upstream._scripted import Scripted, json_reply, redirect, stream_reply
from tests.fake_upstream._server import (
    FakeUpstream,
    Received,
    Wire,
    closed_port_url,
    running_fake_upstream,
)

__all__ = [
    "AnthropicReply",
    "FakeUpstream",
    "Received",
    "Reply",
    "Scripted",
    "ToolCall",
    "ToolUse",
    "Wire",
    "closed_port_url",
    "json_reply",
    "redirect",
    "running_fake_upstream",
    "stream_reply",
]
