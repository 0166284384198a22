"""Logs an operator can read: one line per event, as text or JSON, configured once.

An event is a name and its fields, logged with `log_event`:

    log_event(log, logging.WARNING, "provider_call_failed", provider="openai", status=500)

    LOG_FORMAT=text  2025-01-31T12:00:00.123Z WARNING [4242] switchboard.gateway.executor
                     provider_call_failed provider=openai status=500       (on one line)
    LOG_FORMAT=json  {"time":"2025-01-31T12:00:00.123Z","level":"WARNING","pid":4242,
                     "logger":"switchboard.gateway.executor","message":"provider_call_failed",
                     "event":"provider_call_failed","provider":"openai","status":500}

Every JSON line has `time` (UTC), `level`, `pid`, `logger` and `message`; an event's line adds
`event` and its fields. Lines that are not events (uvicorn's own, a library's) carry their
text as `message`; a traceback goes in `exception` (in text, on the lines that follow).

Secrets: a field holding text a provider sent is scrubbed by whoever logs it
(`redaction.scrub(text, (the key sent on that call,))`). The formatter is the second line of
defence: it masks the secrets it was configured with (ADMIN_TOKEN, ENCRYPTION_KEY, the
database password, …) wherever they appear, and anything shaped like a key or a URL's password
in free text and tracebacks. The access log's fields are Switchboard's own values (ids, names,
numbers): they are written as they are, because that line is on every request's path.

`configure_logging(settings)` is called once by the entry point; `log_config(settings)` is the
same configuration as a `logging.config.dictConfig` dictionary, which uvicorn applies again in
each worker process it starts.
"""

from __future__ import annotations

import enum
import logging
import logging.config
import re
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import orjson

from switchboard.redaction import MASK, scrub

if TYPE_CHECKING:
    from switchboard.settings import Settings

ACCESS_LOGGER = "switchboard.access"
"""The logger of the access log: one line per gateway request (see `gateway.access_log`)."""


class LogFormat(enum.StrEnum):
    """The `LOG_FORMAT` setting."""

    TEXT = "text"
    JSON = "json"


class LogLevel(enum.StrEnum):
    """The `LOG_LEVEL` setting."""

    DEBUG = "DEBUG"
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


def log_event(
    logger: logging.Logger, level: int, event: str, *, exc_info: bool = False, **fields: Any
) -> None:
    """Log `event` with `fields` (str, int, float, bool, None, or anything `str` renders), if
    `logger` is enabled for `level`; `exc_info` adds the exception being handled."""
    if logger.isEnabledFor(level):
        logger.log(level, event, exc_info=exc_info, extra={"fields": fields})


def configure_logging(settings: Settings) -> None:
    logging.config.dictConfig(log_config(settings))


def log_config(settings: Settings) -> dict[str, Any]:
    """The whole logging configuration: our format on stderr for every logger (uvicorn's
    too), at LOG_LEVEL; the access log on when ACCESS_LOG is, whatever LOG_LEVEL says (it is
    a log of its own, as a web server's is); uvicorn's access log off (ours replaces it)."""
    level = str(settings.log_level)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "switchboard": {
                "()": "switchboard.logs.formatter",
                "log_format": str(settings.log_format),
                "secrets": configured_secrets(settings),
            }
        },
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "switchboard",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            # A line per plugin at every start, before the migrations' own.
            "alembic.runtime.plugins": {"handlers": [], "level": "WARNING", "propagate": True},
            ACCESS_LOGGER: {
                "handlers": [],
                "level": "INFO" if settings.access_log else "WARNING",
                "propagate": True,
            },
        },
    }


def configured_secrets(settings: Settings) -> list[str]:
    """The secrets the settings hold, as they could appear in text: never to be logged."""
    found: list[str] = []
    for secret in (settings.admin_token, settings.litellm_master_key):
        if secret is not None:
            found.append(secret.get_secret_value())
    if settings.encryption_key is not None:
        found.extend(settings.encryption_key.get_secret_value().split(","))
    try:
        password = urlsplit(settings.database_url).password
    except ValueError:
        password = None
    if password:
        found.extend((password, unquote(password)))
    return sorted({secret.strip() for secret in found if len(secret.strip()) >= 4})


def formatter(log_format: str, secrets: Iterable[str] = ()) -> logging.Formatter:
    """The formatter for `log_format` (the factory `log_config` names)."""
    if LogFormat(log_format) is LogFormat.JSON:
        return JsonFormatter(secrets)
    return TextFormatter(secrets)


class _Formatter(logging.Formatter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(secrets)
        self._second = -1
        self._second_text = ""

    def timestamp(self, record: logging.LogRecord) -> str:
        """`2025-01-31T12:00:00.123Z`; the part to the second is made once per second."""
        second = int(record.created)
        if second != self._second:
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._second_text}.{int(record.msecs):03d}Z"

    def free_text(self, text: str) -> str:
        """Text nobody vetted (a message, a traceback): known secrets, key shapes and URL
        passwords masked."""
        return _URL_PASSWORD.sub(rf"\g<1>{MASK}@", scrub(text, self._secrets))

    def field_text(self, record: logging.LogRecord, value: str) -> str:
        """An event's text field: the configured secrets masked (not on the access log)."""
        if record.name == ACCESS_LOGGER:
            return value
        for secret in self._secrets:
            if secret in value:
                return scrub(value, self._secrets)
        return value

    def exception_text(self, record: logging.LogRecord) -> str | None:
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.stack_info:
            return self.free_text(f"{record.exc_text or ''}\n{record.stack_info}".strip())
        return self.free_text(record.exc_text) if record.exc_text else None


class TextFormatter(_Formatter):
    """`time LEVEL [pid] logger event key=value …`, values quoted (JSON) when they need it."""

    def format(self, record: logging.LogRecord) -> str:
        fields: Mapping[str, Any] | None = getattr(record, "fields", None)
        head = f"{self.timestamp(record)} {record.levelname} [{record.process}] {record.name}"
        if fields is None:
            line = f"{head} {_one_line(self.free_text(record.getMessage()))}"
        else:
            parts = [head, record.msg]
            access = record.name == ACCESS_LOGGER
            for name, value in fields.items():
                # The access log's kinds of value first, inline: it runs on every request.
                if value is None:
                    parts.append(f"{name}=-")
                elif type(value) is int or (
                    access and isinstance(value, str) and _BARE.fullmatch(value)
                ):
                    parts.append(f"{name}={value}")
                else:
                    parts.append(f"{name}={self._value(record, value)}")
            line = " ".join(parts)
        exception = self.exception_text(record)
        return f"{line}\n{exception}" if exception else line

    def _value(self, record: logging.LogRecord, value: Any) -> str:
        if value is None:
            return "-"
        if value is True or value is False:
            return "true" if value else "false"
        if isinstance(value, int | float):
            return str(value)
        text = self.field_text(record, str(value))
        if text and _BARE.fullmatch(text):
            return text
        return orjson.dumps(text).decode()


class JsonFormatter(_Formatter):
    """One JSON object a line."""

    def format(self, record: logging.LogRecord) -> str:
        fields: Mapping[str, Any] | None = getattr(record, "fields", None)
        line: dict[str, Any] = {
            "time": self.timestamp(record),
            "level": record.levelname,
            "pid": record.process,
            "logger": record.name,
        }
        if fields is None:
            line["message"] = self.free_text(record.getMessage())
        else:
            line["message"] = line["event"] = record.msg
            for name, value in fields.items():
                if isinstance(value, str):
                    value = self.field_text(record, value)
                line.setdefault(name, value)
        exception = self.exception_text(record)
        if exception:
            line["exception"] = exception
        return orjson.dumps(line, default=str).decode()


def _one_line(text: str) -> str:
    """A line break in a message would forge a line of its own."""
    return text.replace("\r", "\\r").replace("\n", "\\n") if "\n" in text or "\r" in text else text


_BARE = re.compile(r"[^\s\"'=\\\x00-\x1f\x7f]+")
_URL_PASSWORD = re.compile(r"(\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/:@]*:)[^\s/@]+@")
