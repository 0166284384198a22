"""Console session cookies and the sign-in throttle, without a server."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from switchboard.console.sessions import (
    ConsoleSession,
    Role,
    SessionCodec,
    new_csrf_token,
    signing_key,
)
from switchboard.console.throttle import MAX_WAIT_S, SignInThrottle
from switchboard.settings import Settings

NOW = 1_800_000_000.0


def session(expires_at: float = NOW + 60) -> ConsoleSession:
    return ConsoleSession(Role.USER, "ada", expires_at, new_csrf_token(), key_id=7)


def test_a_cookie_reads_back_until_it_expires() -> None:
    codec = SessionCodec(b"k" * 32)
    original = session()
    value = codec.encode(original)
    assert codec.decode(value, now=NOW) == original
    assert codec.decode(value, now=NOW + 60) is None


@pytest.mark.parametrize(
    "tamper",
    [
        lambda v: v + "x",
        lambda v: ("A" if v[0] != "A" else "B") + v[1:],
        lambda v: v.replace(".", ""),
        str.upper,
    ],
)
def test_a_tampered_or_foreign_cookie_is_no_session(tamper: object) -> None:
    value = SessionCodec(b"k" * 32).encode(session())
    assert SessionCodec(b"k" * 32).decode(tamper(value), now=NOW) is None  # type: ignore[operator]
    assert SessionCodec(b"other" * 8).decode(value, now=NOW) is None


def test_the_signing_key_follows_the_admin_token_and_holds_no_secret() -> None:
    one = Settings(_env_file=None, admin_token=SecretStr("token-one"))
    two = Settings(_env_file=None, admin_token=SecretStr("token-two"))
    assert signing_key(one) == signing_key(one) != signing_key(two)
    assert b"token-one" not in signing_key(one)
    value = SessionCodec(signing_key(one)).encode(session())
    assert "token-one" not in value


def test_failures_beyond_the_free_ones_wait_longer_each_time() -> None:
    clock = [NOW]
    throttle = SignInThrottle(free_failures=2, clock=lambda: clock[0])
    for _ in range(2):
        assert throttle.wait_s("a") == 0
        throttle.failed("a")
    assert throttle.wait_s("a") == 1.0
    throttle.failed("a")
    assert throttle.wait_s("a") == 2.0
    assert throttle.wait_s("b") == 0, "another client is not slowed down"
    clock[0] += 2
    assert throttle.wait_s("a") == 0
    for _ in range(20):
        throttle.failed("a")
    assert throttle.wait_s("a") == MAX_WAIT_S
    throttle.succeeded("a")
    assert throttle.wait_s("a") == 0
