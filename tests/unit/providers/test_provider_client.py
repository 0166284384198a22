"""The provider client against real local servers: it connects only where `PROVIDER_ADDRESSES`
allows, after resolution (a name) or before connecting (an address in any notation), and no
provider call follows a redirect."""

from __future__ import annotations

import asyncio

import pytest

from switchboard.address_policy import ProviderAddresses
from switchboard.providers.base import ErrorKind, Upstream, UpstreamError
from switchboard.providers.client import provider_client
from switchboard.providers.openai_compat import OpenAICompatAdapter
from switchboard.vocabulary import AuthType
from tests.fake_upstream import FakeUpstream, json_reply, redirect

KEY = "sk-test-0123456789abcdefWXYZ"
MODELS = "/v1/models"
CHAT = "/v1/chat/completions"
ANSWER = {"choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}]}


def upstream_at(base_url: str) -> Upstream:
    return Upstream(
        provider_slug="local",
        base_url=base_url,
        model="m-1",
        api_key=KEY,
        auth_type=AuthType.BEARER,
        connect_timeout_s=2.0,
        timeout_s=5.0,
    )


def list_models_at(host: str, addresses: ProviderAddresses) -> tuple[list[str] | str, FakeUpstream]:
    """The models listed at `http://{host}:{port}/v1` (a server on 127.0.0.1), or the error."""
    fake = FakeUpstream()
    fake.set_default(MODELS, json_reply({"data": [{"id": "m-1"}]}))

    async def main() -> list[str] | str:
        async with fake.serving(), provider_client(addresses) as http:
            port = fake.url.rsplit(":", 1)[1]
            upstream = upstream_at(f"http://{host}:{port}/v1")
            try:
                return await OpenAICompatAdapter().list_models(http, upstream)
            except UpstreamError as error:
                return f"{error.kind}: {error.message}"

    return asyncio.run(main()), fake


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001", "[::ffff:127.0.0.1]"])
def test_loopback_in_any_notation_is_reached_under_private(host: str) -> None:
    listed, seen = list_models_at(host, ProviderAddresses.PRIVATE)
    assert listed == ["m-1"] and len(seen.received()) == 1


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("localhost", "localhost resolves to 127.0.0.1"),  # after resolution
        ("127.0.0.1", "address refused: 127.0.0.1"),  # an address: before connecting
        ("0x7f000001", "address refused: 127.0.0.1"),
        ("2130706433", "address refused: 127.0.0.1"),
        ("[::ffff:127.0.0.1]", "address refused: ::ffff:7f00:1 (IPv4 127.0.0.1)"),
    ],
)
def test_under_public_loopback_is_refused_and_nothing_is_sent(host: str, refused: str) -> None:
    error, seen = list_models_at(host, ProviderAddresses.PUBLIC)
    assert isinstance(error, str) and error.startswith("connection_error: local: Cannot connect")
    assert f"[{refused}, a loopback address, which PROVIDER_ADDRESSES=public refuses]" in error
    assert seen.received() == []


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_is_an_error(status: int) -> None:
    target, hop = FakeUpstream(), FakeUpstream()
    target.set_default(CHAT, json_reply(ANSWER))

    async def main() -> UpstreamError:
        async with (
            target.serving(),
            hop.serving(),
            provider_client(ProviderAddresses.PRIVATE) as http,
        ):
            hop.set_default(CHAT, redirect(f"{target.url}{CHAT}", status))
            hop.set_default(MODELS, redirect(target.url, status))
            adapter, upstream = OpenAICompatAdapter(), upstream_at(f"{hop.url}/v1")
            with pytest.raises(UpstreamError) as listing:
                await adapter.list_models(http, upstream)
            with pytest.raises(UpstreamError) as completing:
                await adapter.complete(http, upstream, {"messages": []})
            assert str(completing.value) == (
                f"local answered {status}: redirected to '{target.url}/v1/chat/completions' — "
                "not followed"
            )
            return listing.value

    error = asyncio.run(main())
    assert (error.kind, error.status, error.retryable) == (ErrorKind.PROTOCOL, status, True)
    assert error.message.endswith("— not followed")
    assert [r.path for r in hop.received()] == ["/v1/models", "/v1/chat/completions"]
    assert target.received() == []
