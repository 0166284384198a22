"""The log formats (text and JSON), the configuration `serve` applies, and what is masked."""

from __future__ import annotations

import logging
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from switchboard.logs import (
    ACCESS_LOGGER,
    JsonFormatter,
    LogFormat,
    LogLevel,
    TextFormatter,
    configured_secrets,
    formatter,
    log_config,
)
from switchboard.settings import Settings

MOMENT = datetime(2025, 1, 31, 12, 0, 0, 123_000, tzinfo=UTC).timestamp()
ADMIN = "admin-token-0123456789"


def record(
    message: str,
    fields: dict[str, Any] | None = None,
    *,
    name: str = "switchboard.test",
    level: int = logging.WARNING,
    args: tuple[Any, ...] = (),
    exc_info: Any = None,
) -> logging.LogRecord:
    made = logging.LogRecord(name, level, __file__, 1, message, args, exc_info)
    made.created, made.msecs, made.process = MOMENT, 123.0, 4242
    if fields is not None:
        made.fields = fields
    return made


def text(made: logging.LogRecord, secrets: tuple[str, ...] = (ADMIN,)) -> str:
    return TextFormatter(secrets).format(made)


def json_line(made: logging.LogRecord, secrets: tuple[str, ...] = (ADMIN,)) -> dict[str, Any]:
    line = JsonFormatter(secrets).format(made)
    assert "\n" not in line
    parsed: dict[str, Any] = orjson.loads(line)
    return parsed


# Text ------------------------------------------------------------------------------------


def test_an_event_is_one_line_of_key_value_fields() -> None:
    made = record(
        "provider_call_failed",
        {"provider": "openai", "status": 500, "retryable": True, "after": None, "cost": 0.5},
    )

    assert text(made) == (
        "2025-01-31T12:00:00.123Z WARNING [4242] switchboard.test provider_call_failed "
        "provider=openai status=500 retryable=true after=- cost=0.5"
    )


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("two words", '"two words"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("a=b", '"a=b"'),
        ("line\nbreak", '"line\\nbreak"'),
        ("\x1b[31mred", '"\\u001b[31mred"'),
        ("", '""'),
        (Decimal("0.0000092500"), "0.0000092500"),
        ("openai/gpt-4o-mini", "openai/gpt-4o-mini"),
    ],
)
def test_a_value_is_quoted_when_it_would_break_the_line_or_its_fields(
    value: Any, written: str
) -> None:
    assert text(record("event", {"field": value})).endswith(f" event field={written}")


def test_a_plain_message_stays_on_its_line() -> None:
    made = record("upstream said %s", args=("no\nFORGED 2025 ERROR root",))

    (line,) = text(made).splitlines()
    assert line.endswith("switchboard.test upstream said no\\nFORGED 2025 ERROR root")


def test_a_traceback_follows_its_line() -> None:
    try:
        raise ValueError(f"token {ADMIN} refused")
    except ValueError:
        made = record("usage_drain_failed", {}, exc_info=sys.exc_info())

    first, *rest = text(made).splitlines()
    assert first.endswith("usage_drain_failed")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: token admi…789 refused"
    assert ADMIN not in "\n".join(rest)


# JSON ------------------------------------------------------------------------------------


def test_a_json_event_has_the_common_keys_and_its_fields() -> None:
    made = record(
        "cooldown_started",
        {"provider": "openai", "cooldown_s": 30.0, "model": None, "cost": Decimal("0.25")},
    )

    assert json_line(made) == {
        "time": "2025-01-31T12:00:00.123Z",
        "level": "WARNING",
        "pid": 4242,
        "logger": "switchboard.test",
        "message": "cooldown_started",
        "event": "cooldown_started",
        "provider": "openai",
        "cooldown_s": 30.0,
        "model": None,
        "cost": "0.25",
    }


def test_a_field_cannot_replace_a_common_key() -> None:
    line = json_line(record("event", {"level": "DEBUG", "time": "then", "event": "other"}))

    assert (line["level"], line["time"], line["event"]) == (
        "WARNING",
        "2025-01-31T12:00:00.123Z",
        "event",
    )


def test_a_plain_json_line_has_a_message_and_a_traceback_in_one_line() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        made = record("unhandled error on %s", args=("/v1/x",), exc_info=sys.exc_info())

    line = json_line(made)
    assert line["message"] == "unhandled error on /v1/x"
    assert "event" not in line
    assert line["exception"].endswith("RuntimeError: boom")


def test_the_time_is_utc() -> None:
    when = datetime.fromisoformat(json_line(record("x", {}))["time"])

    assert when.utcoffset() == timedelta(0)
    assert when.timestamp() == pytest.approx(MOMENT, abs=0.001)


# Secrets ---------------------------------------------------------------------------------


@pytest.mark.parametrize("format_", list(LogFormat))
def test_configured_secrets_are_masked_in_messages_and_fields(format_: LogFormat) -> None:
    chosen = formatter(str(format_), [ADMIN])
    lines = [
        chosen.format(record("token is %s", args=(ADMIN,))),
        chosen.format(record("event", {"said": f"Bearer {ADMIN}", "also": ADMIN})),
    ]

    for line in lines:
        assert ADMIN not in line
        assert "admi…789" in line


def test_free_text_loses_key_shapes_and_url_passwords() -> None:
    made = record(
        "could not reach %s with %s",
        args=("postgresql://app:hunter2-pw@db:5432/x", "sk-proj-abcdefghijklmnopqrstuvwx"),
    )

    line = text(made, ())
    assert "hunter2-pw" not in line
    assert "postgresql://app:…@db:5432/x" in line
    assert "abcdefghijklmnopqrstuvwx" not in line


def test_the_access_log_is_written_as_it_is() -> None:
    """Its values are Switchboard's own: no scrubbing on every request's path (a request id
    is as long as a bare key)."""
    request_id = "req_" + "0a" * 16
    made = record("request", {"request_id": request_id}, name=ACCESS_LOGGER, level=logging.INFO)

    assert text(made).endswith(f"request request_id={request_id}")


def test_the_settings_secrets_are_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_TOKEN", ADMIN)
    monkeypatch.setenv("ENCRYPTION_KEY", "first-fernet-key-aaaa, second-fernet-key-bbbb")
    monkeypatch.setenv("LITELLM_MASTER_KEY", "litellm-master-cccc")
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app:p%40ss-word@db/switchboard")

    assert set(configured_secrets(Settings())) == {
        ADMIN,
        "first-fernet-key-aaaa",
        "second-fernet-key-bbbb",
        "litellm-master-cccc",
        "p%40ss-word",
        "p@ss-word",
    }


# Settings and configuration --------------------------------------------------------------


def test_log_settings_take_any_case_and_refuse_the_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOG_FORMAT", "JSON")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    monkeypatch.setenv("ACCESS_LOG", "false")
    settings = Settings()
    assert (settings.log_format, settings.log_level, settings.access_log) == (
        LogFormat.JSON,
        LogLevel.DEBUG,
        False,
    )

    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ValidationError, match="log_format"):
        Settings()


def test_the_defaults_are_text_at_info_with_the_access_log() -> None:
    settings = Settings()

    assert (settings.log_format, settings.log_level, settings.access_log) == (
        LogFormat.TEXT,
        LogLevel.INFO,
        True,
    )


@pytest.mark.parametrize(("access_log", "level"), [(True, "INFO"), (False, "WARNING")])
def test_the_access_log_follows_its_own_setting(access_log: bool, level: str) -> None:
    config = log_config(Settings(access_log=access_log, log_level=LogLevel.ERROR))

    assert config["loggers"][ACCESS_LOGGER]["level"] == level
    assert config["root"]["level"] == "ERROR"
    assert config["loggers"]["uvicorn.access"]["level"] == "WARNING"  # ours replaces it
    assert config["loggers"]["uvicorn.access"]["propagate"] is False


CONFIGURED = """
import logging, sys
from switchboard.logs import configure_logging, log_event, ACCESS_LOGGER
from switchboard.settings import Settings
configure_logging(Settings())
log_event(logging.getLogger("switchboard.x"), logging.INFO, "hello", n=1)
logging.getLogger("switchboard.x").debug("not shown")
logging.getLogger(ACCESS_LOGGER).info("request")
logging.getLogger("uvicorn.error").info("Uvicorn running")
logging.getLogger("uvicorn.access").info("GET / 200")
print("stdout stays clean")
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ["hello", "request", "Uvicorn running"]),
        ({"ACCESS_LOG": "false"}, ["hello", "Uvicorn running"]),
        ({"LOG_LEVEL": "warning"}, ["request"]),
    ],
)
def test_configure_logging_writes_json_to_stderr(
    env: dict[str, str], expected: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a process of its own: configuring logging is what a process does once."""
    monkeypatch.setenv("LOG_FORMAT", "json")
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = subprocess.run(
        [sys.executable, "-c", CONFIGURED], capture_output=True, text=True, check=True
    )

    assert result.stdout == "stdout stays clean\n"
    lines = [orjson.loads(line) for line in result.stderr.splitlines()]
    assert [line["message"] for line in lines] == expected
