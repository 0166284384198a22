"""Secrets at rest: round trips, rotation through MultiFernet, and clear errors."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from hypothesis import given
from hypothesis import strategies as st

from switchboard.errors import ConfigurationError, SecretDecryptionError
from switchboard.redaction import MASK, mask_secret, mask_url
from switchboard.secrets import SecretManager, get_secret_manager, key_id
from switchboard.services.byok import shown_parts
from switchboard.settings import Settings


def new_key() -> str:
    return Fernet.generate_key().decode()


def test_round_trip_returns_the_secret_and_hides_it() -> None:
    manager = SecretManager([new_key()])
    result = manager.encrypt_secret(
        secret="sk-live-0123456789",
        secret_type="user_api_key",
        metadata={"user_id": "u1", "provider_id": 3},
    )
    assert "sk-live" not in result["encrypted_value"]
    assert result["secret_type"] == "user_api_key"
    assert result["metadata"] == {"user_id": "u1", "provider_id": 3}
    assert manager.decrypt_secret(result["encrypted_value"]) == "sk-live-0123456789"


def test_unicode_secret_round_trips() -> None:
    manager = SecretManager([new_key()])
    token = manager.encrypt_secret("clé-secrète-🔑")["encrypted_value"]
    assert manager.decrypt_secret(token) == "clé-secrète-🔑"


def test_the_same_secret_encrypts_differently_each_time() -> None:
    manager = SecretManager([new_key()])
    first = manager.encrypt_secret("s")["encrypted_value"]
    second = manager.encrypt_secret("s")["encrypted_value"]
    assert first != second


def test_wrong_key_is_a_clear_error_without_the_secret() -> None:
    token = SecretManager([new_key()]).encrypt_secret("sk-top-secret")["encrypted_value"]
    with pytest.raises(SecretDecryptionError, match="ENCRYPTION_KEY") as raised:
        SecretManager([new_key()]).decrypt_secret(token)
    assert "sk-top-secret" not in str(raised.value)


def test_corrupted_value_is_a_decryption_error() -> None:
    manager = SecretManager([new_key()])
    with pytest.raises(SecretDecryptionError):
        manager.decrypt_secret("not-a-fernet-token")


def test_rotation_reads_old_values_and_re_encrypts_under_the_first_key() -> None:
    old, new = new_key(), new_key()
    token = SecretManager([old]).encrypt_secret("sk-rotate-me")["encrypted_value"]

    both = SecretManager.from_value(f"{new}, {old}")
    assert both.decrypt_secret(token) == "sk-rotate-me"
    rotated = both.rotate(token)
    assert both.encrypt_secret("x")["key_id"] == key_id(new)

    assert SecretManager([new]).decrypt_secret(rotated) == "sk-rotate-me"
    with pytest.raises(SecretDecryptionError):
        SecretManager([old]).decrypt_secret(rotated)


@pytest.mark.parametrize("value", [None, "", " , "])
def test_missing_key_names_the_variable(value: str | None) -> None:
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEY is not set"):
        SecretManager.from_value(value)


@pytest.mark.parametrize("value", ["not-a-key", "c2hvcnQ=", "é" * 44])
def test_malformed_key_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEY is malformed: key 1 of 1"):
        SecretManager.from_value(value)


def test_malformed_second_key_is_reported_by_position() -> None:
    with pytest.raises(ConfigurationError, match="key 2 of 2"):
        SecretManager.from_value(f"{new_key()},oops")


def test_get_secret_manager_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    key = new_key()
    monkeypatch.setenv("ENCRYPTION_KEY", key)
    token = SecretManager([key]).encrypt_secret("from-env")["encrypted_value"]
    assert get_secret_manager().decrypt_secret(token) == "from-env"


def test_get_secret_manager_without_a_key_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENCRYPTION_KEY")
    with pytest.raises(ConfigurationError, match="ENCRYPTION_KEY"):
        get_secret_manager(Settings(_env_file=None))


@pytest.mark.parametrize(
    ("secret", "masked"),
    [
        ("sk-proj-abcdefghijklmnop", "sk-p…mnop"),  # 24 characters: 8 shown
        ("sk-fake-short-ABCDEF", "sk-…DEF"),  # 20: 6
        ("sk-proj-" + "x" * 40 + "WXYZ", "sk-pro…WXYZ"),  # never more than 10
        ("123456789012", "12…12"),  # 12: 4
        ("12345678901", "…"),  # under 12: nothing
        ("12345678", "…"),
        ("short", "…"),
        ("", "…"),
    ],
)
def test_mask_never_shows_the_whole_secret(secret: str, masked: str) -> None:
    assert mask_secret(secret) == masked


@given(st.text())
def test_a_mask_shows_a_third_of_a_secret_at_most(secret: str) -> None:
    head, mask, tail = mask_secret(secret).partition(MASK)
    assert mask == MASK
    assert len(head) + len(tail) <= len(secret) // 3
    assert secret.startswith(head) and secret.endswith(tail)


@given(st.text(min_size=1), st.sampled_from(["mask", "first 8 and last 4"]))
def test_a_stored_byok_key_is_shown_a_third_at_most(key: str, stored_as: str) -> None:
    """However a BYOK row keeps its key's first and last characters (as `mask_secret` shows
    them now, or the first 8 and last 4 as before), no more than a third of the key is shown."""
    if stored_as == "mask":
        prefix, _, suffix = mask_secret(key).partition(MASK)
    else:
        prefix, suffix = key[:8], key[-4:]
    head, tail = shown_parts(prefix, suffix)
    assert len(head) + len(tail) <= len(key) // 3
    assert key.startswith(head) and key.endswith(tail)
    if stored_as == "mask" and not prefix.endswith(suffix):
        assert (head, tail) == (prefix, suffix)  # a mask is shown as it is


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.slack.com/services/T0/B0/XYZ", "https://hooks.slack.com/services/…"),
        ("https://example.com/hook", "https://example.com/hook"),
        ("https://example.com", "https://example.com"),
        ("https://example.com/hook?token=abc", "https://example.com/hook/…"),
        ("https://user:pw@example.com:8443/a/b", "https://example.com:8443/a/…"),
        ("http://[::1]:9/h/secret", "http://[::1]:9/h/…"),
    ],
)
def test_a_masked_url_shows_where_it_goes_and_nothing_past_its_first_segment(
    url: str, shown: str
) -> None:
    assert mask_url(url) == shown
