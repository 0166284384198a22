"""The usage writer: drains sealed spool segments into the database in batches.

Runs in a background thread (the database API is synchronous and must never block the
event loop). Rows are written idempotently by `request_id`, so a segment written again after a
crash between commit and delete adds nothing. When the database is unreachable the segments
simply wait; nothing is dropped. A segment the database refuses stays spooled (and is tried
again) without holding back the ones after it. Using a BYOK key or a virtual key updates its
`last_used_at`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import String, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import LLMModel, LLMProvider, LLMUsageLog, UserAPIKey, VirtualKey
from switchboard.usage.record import UsageRecord
from switchboard.usage.spool import UsageSpool, claimed
from switchboard.usage.store import write_records

log = logging.getLogger(__name__)

BATCH_SIZE = 1000


class UsageWriter:
    def __init__(
        self, spool: UsageSpool, sessions: sessionmaker[Session], *, interval_s: float
    ) -> None:
        self._spool = spool
        self._sessions = sessions
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drain_lock = threading.Lock()
        self.last_error: str | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="usage-writer", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread, then drain what is left (what cannot be written stays spooled)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self.drain()

    def drain(self) -> int:
        """Seal the active segment and store every sealed one; the number of records stored.
        Stops when the database cannot be reached, leaving the rest for the next try."""
        with self._drain_lock:
            self._spool.rotate()
            stored = 0
            error: SQLAlchemyError | None = None
            for path in self._spool.sealed_segments():
                with claimed(path) as records:
                    if records is None:
                        continue
                    try:
                        self._store(records)
                    except SQLAlchemyError as failure:
                        error = failure
                        if _unreachable(failure):
                            log.warning("usage writer: database unavailable, will retry")
                            break
                        log.error("usage writer: %s refused (%s); kept", path.name, failure)
                        continue
                    path.unlink(missing_ok=True)
                    stored += len(records)
            self.last_error = f"{error.__class__.__name__}: {error}"[:500] if error else None
            return stored

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.drain()
            except Exception:  # the writer must outlive any surprise; the spool keeps the data
                log.exception("usage writer: drain failed")

    def _store(self, records: Sequence[UsageRecord]) -> None:
        with self._sessions() as session:
            for start in range(0, len(records), BATCH_SIZE):
                batch = _storable(session, records[start : start + BATCH_SIZE])
                write_records(session, batch)
                _touch(session, UserAPIKey, _latest_use((r.user_key_id, r) for r in batch))
                _touch(session, VirtualKey, _latest_use((r.virtual_key_id, r) for r in batch))
                session.commit()


def _unreachable(error: SQLAlchemyError) -> bool:
    """The database could not be reached (as opposed to refusing what was sent)."""
    return isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


_REFERENCES: tuple[tuple[str, Any], ...] = (
    ("model_id", LLMModel),
    ("provider_id", LLMProvider),
    ("user_key_id", UserAPIKey),
    ("virtual_key_id", VirtualKey),
)
_IDENTITY = frozenset({"request_id", "user_id"})
_TEXT_LENGTHS = {
    column.key: column.type.length
    for column in LLMUsageLog.__table__.columns
    if isinstance(column.type, String)
    and column.type.length
    and column.key in UsageRecord.__dataclass_fields__
    and column.key not in _IDENTITY
}


def _storable(session: Session, records: Sequence[UsageRecord]) -> list[UsageRecord]:
    """The records as the database will take them. A record may wait in the spool while a
    model, provider or key it names is deleted: its reference is dropped, as the column's
    `ondelete="SET NULL"` would have done to a stored row. Text longer than its column (which
    PostgreSQL refuses) is cut to fit. Either would otherwise be refused again and again."""
    existing: dict[str, set[int]] = {}
    for name, table in _REFERENCES:
        ids = {value for record in records if (value := getattr(record, name)) is not None}
        existing[name] = (
            set(session.scalars(select(table.id).where(table.id.in_(ids)))) if ids else set()
        )
    fitted: list[UsageRecord] = []
    for record in records:
        changes: dict[str, Any] = {
            name: None
            for name, _ in _REFERENCES
            if getattr(record, name) is not None and getattr(record, name) not in existing[name]
        }
        for name, length in _TEXT_LENGTHS.items():
            value = getattr(record, name)
            if isinstance(value, str) and len(value) > length:
                changes[name] = value[:length]
        fitted.append(replace(record, **changes) if changes else record)
    return fitted


def _latest_use(uses: Iterable[tuple[int | None, UsageRecord]]) -> dict[int, datetime]:
    """Key id → its newest use. Records need not be in time order (clocks step back)."""
    latest: dict[int, datetime] = {}
    for key_id, record in uses:
        if key_id is not None and (key_id not in latest or record.created_at > latest[key_id]):
            latest[key_id] = record.created_at
    return latest


def _touch(
    session: Session,
    table: type[UserAPIKey] | type[VirtualKey],
    used: dict[int, datetime],
) -> None:
    for key_id, at in used.items():
        session.execute(
            update(table)
            .where(table.id == key_id)
            .where((table.last_used_at.is_(None)) | (table.last_used_at < at))
            .values(last_used_at=at)
        )
