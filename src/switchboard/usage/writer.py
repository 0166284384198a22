"""The usage writer: drains sealed spool segments into the database in batches.

Runs in a background thread (the database API is synchronous and must never block the
event loop). Rows are written idempotently by `request_id`, so a segment written again after a
crash between commit and delete adds nothing. When the database is unreachable the segments
simply wait; nothing is dropped. Using a BYOK key or a virtual key updates its `last_used_at`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import UserAPIKey, VirtualKey
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
        Stops at the first database error, leaving the rest for the next try."""
        with self._drain_lock:
            self._spool.rotate()
            stored = 0
            for path in self._spool.sealed_segments():
                with claimed(path) as records:
                    if records is None:
                        continue
                    try:
                        self._store(records)
                    except SQLAlchemyError as error:
                        self.last_error = f"{error.__class__.__name__}: {error}"[:500]
                        log.warning("usage writer: database unavailable, will retry")
                        return stored
                    path.unlink(missing_ok=True)
                    stored += len(records)
            self.last_error = None
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
                batch = records[start : start + BATCH_SIZE]
                write_records(session, batch)
                _touch(session, UserAPIKey, {r.user_key_id: r.created_at for r in batch})
                _touch(session, VirtualKey, {r.virtual_key_id: r.created_at for r in batch})
                session.commit()


def _touch(
    session: Session,
    table: type[UserAPIKey] | type[VirtualKey],
    used: dict[int | None, datetime],
) -> None:
    for key_id, at in used.items():
        if key_id is None:
            continue
        session.execute(
            update(table)
            .where(table.id == key_id)
            .where((table.last_used_at.is_(None)) | (table.last_used_at < at))
            .values(last_used_at=at)
        )
