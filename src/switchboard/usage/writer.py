"""The usage writer: drains sealed spool segments into the database in batches.

Runs in a background thread (the database API is synchronous and must never block the
event loop). Rows are written idempotently by `request_id`, so a segment written again after a
crash between commit and delete adds nothing. When the database is unreachable the segments
simply wait; nothing is dropped. A segment the database refuses stays spooled (and is tried
again) without holding back the ones after it. Using a BYOK key or a virtual key updates its
`last_used_at`.

It stores every request the gateway serves, in the gateway's process, so it is kept cheap:
segments are read as rows (`spool.claimed_rows`, no record objects), and every statement is
compiled once per connection and run by the driver's `executemany` (`_bulk`).
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Dialect, String, bindparam, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.errors import ConcurrentWriteError
from switchboard.logs import log_event
from switchboard.models import LLMModel, LLMProvider, LLMUsageLog, UserAPIKey, VirtualKey
from switchboard.redaction import scrub
from switchboard.usage._bulk import BulkStatement, MatchingQuery, per_connection
from switchboard.usage.record import UsageRecord, UsageRow
from switchboard.usage.spool import UsageSpool, claimed_rows, segment_started
from switchboard.usage.store import store_rows

log = logging.getLogger(__name__)

BATCH_SIZE = 1000

BACKLOG_SEGMENTS = 10
BACKLOG_AGE_S = 60.0
"""The usage backlog an operator hears of: more than `BACKLOG_SEGMENTS` segments waiting
(20,000 records, about ten seconds of a saturated worker), or one waiting longer than
`BACKLOG_AGE_S`. A segment counts as waiting once it is a few drain intervals old: a writer
that keeps up stores each within one, and other workers' active segments (in the same spool
directory) are younger, as their writers seal them at each of their drains."""

NICENESS = 5
"""How far below the threads that serve requests the writer thread runs (added to the
process's niceness, up to 19). It works in bursts (every segment the interval sealed, at
once), and at the same priority a burst took the event loop's core and GIL away from the
requests in flight: the slowest 1% of requests at concurrency 32 took about 3× as long as the
median, against 2× at 5 below. It still gets about a quarter of a core the requests keep busy,
enough to keep up with a fully loaded worker (at 10 below it got a tenth, and fell behind
under a saturating load)."""


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the last drain left in the spool: sealed segments not stored (another process's
    writer may be storing some of them), and how old the oldest is."""

    segments: int = 0
    oldest_age_s: float = 0.0


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
        # What has been logged, so that a state is logged when it begins and when it ends,
        # not at every drain (twice a second).
        self._unreachable = False
        self._backlogged = False
        self._waiting_after_s = 5.0 + 4 * interval_s
        self._refused: set[str] = set()
        self.backlog = Backlog()

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
            error: SQLAlchemyError | ConcurrentWriteError | None = None
            unreachable = False
            segments = self._spool.sealed_segments()
            self._watch_backlog(segments)
            done: set[Path] = set()
            for path in segments:
                with claimed_rows(path) as rows:
                    if rows is None:
                        continue
                    try:
                        self._store(rows)
                    except (SQLAlchemyError, ConcurrentWriteError) as failure:
                        error = failure
                        if _unreachable(failure):
                            unreachable = True
                            break
                        self._log_refused(path, len(rows), failure)
                        continue
                    path.unlink(missing_ok=True)
                    done.add(path)
                    stored += len(rows)
            self.backlog = _backlog([path for path in segments if path not in done])
            self._watch_database(unreachable, error, stored, len(segments))
            self._refused.intersection_update(path.name for path in segments)
            self.last_error = f"{error.__class__.__name__}: {error}"[:500] if error else None
            return stored

    def _watch_backlog(self, segments: list[Path]) -> None:
        """Warn when segments pile up or wait long (the writer lags, or cannot write), and say
        when none is waiting any more."""
        now = time.time()
        ages = [now - started for started in map(segment_started, segments) if started]
        waiting = [age for age in ages if age > self._waiting_after_s]
        oldest = max(waiting, default=0.0)
        if not self._backlogged and (len(waiting) > BACKLOG_SEGMENTS or oldest > BACKLOG_AGE_S):
            self._backlogged = True
            log_event(
                log,
                logging.WARNING,
                "usage_backlog",
                segments_waiting=len(waiting),
                oldest_age_s=round(oldest, 1),
                records_per_segment_max=self._spool.segment_records,
            )
        elif self._backlogged and not waiting:
            self._backlogged = False
            log_event(log, logging.INFO, "usage_backlog_cleared")

    def _watch_database(
        self,
        unreachable: bool,
        error: Exception | None,
        stored: int,
        segments: int,
    ) -> None:
        if unreachable and not self._unreachable:
            log_event(
                log,
                logging.WARNING,
                "usage_write_failed",
                cause="database_unreachable",
                error=type(error).__name__,
                segments_waiting=segments,
                will_retry=True,
            )
        elif self._unreachable and not unreachable:
            log_event(log, logging.INFO, "usage_write_recovered", records_stored=stored)
        self._unreachable = unreachable

    def _log_refused(self, path: Path, records: int, error: Exception) -> None:
        """Once per segment: it stays spooled and is tried again at every drain."""
        if path.name in self._refused:
            return
        self._refused.add(path.name)
        log_event(
            log,
            logging.ERROR,
            "usage_segment_refused",
            segment=path.name,
            records=records,
            error=type(error).__name__,
            detail=_first_line(error),
            kept=True,
        )

    def _run(self) -> None:
        _lower_priority(by=NICENESS)
        while not self._stop.wait(self._interval_s):
            try:
                self.drain()
            except Exception:  # the writer must outlive any surprise; the spool keeps the data
                log_event(log, logging.ERROR, "usage_drain_failed", exc_info=True)

    def _store(self, rows: Sequence[UsageRow]) -> None:
        with self._sessions() as session:
            for start in range(0, len(rows), BATCH_SIZE):
                statements = per_connection(session, _Statements)
                batch = _storable(session, statements, rows[start : start + BATCH_SIZE])
                store_rows(session, batch)
                now = utcnow()
                for field, touch in statements.touches:
                    used = _latest_use(batch, field)
                    touch.execute(session, [(key, at, now) for key, at in sorted(used.items())])
                session.commit()


def _backlog(left: list[Path]) -> Backlog:
    now = time.time()
    started = [at for at in map(segment_started, left) if at is not None]
    return Backlog(len(left), max((now - at for at in started), default=0.0))


def _lower_priority(*, by: int) -> None:
    """Run the calling thread `by` niceness below the process's threads. Only Linux gives each
    thread its own niceness (elsewhere it would apply to the whole process, or to whatever has
    that id)."""
    if sys.platform != "linux":
        return
    thread = threading.get_native_id()
    try:
        niceness = os.getpriority(os.PRIO_PROCESS, thread)
        os.setpriority(os.PRIO_PROCESS, thread, min(niceness + by, _LOWEST_PRIORITY))
    except OSError as error:  # a sandbox may forbid it: store at the priority we have
        log_event(log, logging.INFO, "usage_writer_priority_unchanged", error=str(error))


_LOWEST_PRIORITY = 19


def _first_line(error: Exception) -> str:
    """What the database said, without the statement and the rows that SQLAlchemy adds."""
    said = str(getattr(error, "orig", None) or error).strip()
    return scrub(said.splitlines()[0] if said else "")[:300]


def _unreachable(error: Exception) -> bool:
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
_TEXT_LENGTHS = tuple(
    (column.key, column.type.length)
    for column in LLMUsageLog.__table__.columns
    if isinstance(column.type, String)
    and column.type.length
    and column.key in UsageRecord.__dataclass_fields__
    and column.key not in _IDENTITY
)


class _Statements:
    """The writer's own statements, compiled for one kind of database: which of some ids are
    rows of each table usage rows refer to, and moving keys' `last_used_at` forward (never
    back; given in id order, so that concurrent writers lock the rows in one order)."""

    def __init__(self, dialect: Dialect) -> None:
        self.existing = [
            MatchingQuery(select(model.id), model.__table__.c.id, dialect)
            for _, model in _REFERENCES
        ]
        self.touches = [
            ("user_key_id", _touch(UserAPIKey.__table__, dialect)),
            ("virtual_key_id", _touch(VirtualKey.__table__, dialect)),
        ]


def _touch(table: Any, dialect: Dialect) -> BulkStatement:
    """Rows (key id, its newest use, now); a table's `updated_at` is set too, as the ORM's
    `onupdate` does on any update."""
    values: dict[str, Any] = {"last_used_at": bindparam("used_at")}
    if "updated_at" in table.c:
        values["updated_at"] = bindparam("now")
    statement = (
        update(table)
        .where(table.c.id == bindparam("key_id"))
        .where(table.c.last_used_at.is_(None) | (table.c.last_used_at < bindparam("used_at")))
        .values(values)
    )
    return BulkStatement(statement, ("key_id", "used_at", "now"), dialect)


def _storable(
    session: Session, statements: _Statements, rows: Sequence[UsageRow]
) -> list[UsageRow]:
    """The rows as the database will take them. A record may wait in the spool while a
    model, provider or key it names is deleted: its reference is dropped, as the column's
    `ondelete="SET NULL"` would have done to a stored row. Text longer than its column (which
    PostgreSQL refuses) is cut to fit. Either would otherwise be refused again and again."""
    gone = _gone(session, statements, rows)
    fitted: list[UsageRow] = []
    for row in rows:
        changes: dict[str, Any] = {}
        for name, ids in gone.items():
            if row[name] in ids:
                changes[name] = None
        for name, length in _TEXT_LENGTHS:
            value = row[name]
            if isinstance(value, str) and len(value) > length:
                changes[name] = value[:length]
        fitted.append(row | changes if changes else row)
    return fitted


def _gone(
    session: Session, statements: _Statements, rows: Sequence[UsageRow]
) -> dict[str, set[int]]:
    """Reference field → the ids the rows name in it that are not (or no longer) stored."""
    gone: dict[str, set[int]] = {}
    for (name, _), query in zip(_REFERENCES, statements.existing, strict=True):
        named = {row[name] for row in rows} - {None}
        missing = named - {found for (found,) in query.fetch(session, named)}
        if missing:
            gone[name] = missing
    return gone


def _latest_use(rows: Iterable[UsageRow], field: str) -> dict[int, datetime]:
    """Key id (in `field`) → its newest use. Records need not be in time order (clocks step
    back)."""
    latest: dict[int, datetime] = {}
    for row in rows:
        key_id, at = row[field], row["created_at"]
        if key_id is not None and (key_id not in latest or at > latest[key_id]):
            latest[key_id] = at
    return latest
