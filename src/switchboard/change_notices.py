"""Change notices: a nudge through Redis pub/sub that something gateways cache has changed.

Gateway processes learn of changes to the catalog and to keys and users by polling the
database (`CATALOG_POLL_INTERVAL_S`, the catalog's fingerprint and the change counters).
With `REDIS_URL` set, every process that commits such a change also publishes a notice on
`<REDIS_KEY_PREFIX>changes` once the commit is done, and every gateway that hears it polls
at once instead of at its next interval: the change reaches every replica in about a round
trip. The notice says only "look now": what changed is still read from the database, so a
notice lost (Redis away, a gateway reconnecting) costs only time, until the next poll.

`announce_changes` attaches the publishing to a session factory: a commit announces when its
transaction wrote a row of a watched table (through the ORM or an `update`/`delete`
statement) or raised a change counter.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from switchboard.logs import log_event
from switchboard.models import (
    ChangeCounter,
    LLMModel,
    LLMProvider,
    LLMRoutingRule,
    TierLimit,
    User,
    UserAPIKey,
    VirtualKey,
)
from switchboard.settings import Settings

log = logging.getLogger(__name__)

WATCHED: tuple[type, ...] = (
    LLMProvider,
    LLMModel,
    LLMRoutingRule,
    User,
    VirtualKey,
    UserAPIKey,
    TierLimit,
    ChangeCounter,
)
"""What a gateway caches: the catalog snapshot, keys and principals, and their limits."""
_WATCHED_TABLES = frozenset(model.__table__.name for model in WATCHED)  # type: ignore[attr-defined]
_PENDING = "switchboard_change_notice"
"""The session's `info` entry that says its transaction wrote something watched."""


def channel(settings: Settings) -> str:
    return f"{settings.redis_key_prefix}changes"


def announce_changes(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Publish a notice after each commit of `sessions` that changed something watched;
    nothing without `REDIS_URL`. A failed publish is logged, never raised: the commit is
    done, and the other gateways' polls will find the change."""
    if settings.redis_url is None:
        return
    publisher = _Publisher(settings.redis_url, channel(settings), settings.redis_timeout_s)
    event.listen(sessions, "after_flush", _note_flushed_rows)
    event.listen(sessions, "do_orm_execute", _note_statement)
    event.listen(sessions, "after_commit", publisher.after_commit)
    event.listen(sessions, "after_rollback", _forget)


def _note_flushed_rows(session: Session, _context: Any) -> None:
    if any(
        isinstance(row, WATCHED)
        for rows in (session.new, session.dirty, session.deleted)
        for row in rows
    ):
        session.info[_PENDING] = True


def _note_statement(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete or state.is_insert):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) in _WATCHED_TABLES:
        state.session.info[_PENDING] = True


def _forget(session: Session) -> None:
    session.info.pop(_PENDING, None)


class _Publisher:
    def __init__(self, url: str, channel: str, timeout_s: float) -> None:
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s
        )
        self._channel = channel

    def after_commit(self, session: Session) -> None:
        if not session.info.pop(_PENDING, False):
            return
        try:
            self._client.publish(self._channel, b"changed")
        except (redis.RedisError, OSError) as error:
            log_event(log, logging.WARNING, "change_notice_not_sent", error=type(error).__name__)
