"""The usage spool: an append-only local file that every usage record reaches before its
request completes, so the bill survives a database outage, a restart, or SIGKILL.

The spool is a directory of segment files, one JSON record a line. Each process appends to
its own active segment and holds an exclusive `flock` on it while it is active; `rotate`
starts a new one and releases the old. A drainer (any process: see `usage.writer`) takes a
segment only if it can lock it, so it never reads a segment being written, and a segment
left by a killed process (its lock died with it) is picked up by whoever drains next.
A write goes to the kernel at once (`os.write`), so a killed process loses nothing; only a
machine crash can lose what the kernel had not yet put on disk.
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import orjson

from switchboard.logs import log_event
from switchboard.usage.record import UsageRecord, UsageRow, row_from_json

log = logging.getLogger(__name__)

SUFFIX = ".jsonl"
SEGMENT_RECORDS = 2000
"""A segment is sealed once it holds this many records, whenever the writer last drained: a
drainer reads a segment whole, so its memory stays bounded (a few MB) however far behind it
has fallen; the backlog waits on disk."""
T = TypeVar("T")
_ABANDONED_AFTER_S = 60.0


class UsageSpool:
    def __init__(self, directory: Path, *, segment_records: int = SEGMENT_RECORDS) -> None:
        self.directory = directory
        self.segment_records = segment_records
        directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sequence = itertools.count()
        self._fd = -1
        self._path: Path | None = None
        self._written = 0
        self._remove_abandoned()
        self._open_segment()

    def append(self, record: UsageRecord) -> None:
        line = encode_line(record)
        with self._lock:
            os.write(self._fd, line)
            self._written += 1
            full = self._written >= self.segment_records
        if full:
            self.rotate()

    def rotate(self) -> bool:
        """Seal the active segment (if it has anything) and start a new one."""
        with self._lock:
            if self._written == 0:
                return False
            old_fd = self._fd
            self._open_segment()
        os.close(old_fd)  # releases its lock: drainers may take it now
        return True

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1
                if self._written == 0 and self._path is not None:
                    self._path.unlink(missing_ok=True)

    def sealed_segments(self) -> list[Path]:
        """Segments no process is writing, oldest first (by name: time, then sequence)."""
        return sorted(path for path in self.directory.glob(f"*{SUFFIX}") if path != self._path)

    def _remove_abandoned(self) -> None:
        """Remove half-made segments (`….jsonl.new`) of killed processes: a process killed
        between creating one and naming it leaves it empty and unlocked. One still being made
        is locked, or (in the instant before its lock) new: both stay."""
        for path in self.directory.glob(f"*{SUFFIX}.new"):
            try:
                if time.time() - path.stat().st_mtime < _ABANDONED_AFTER_S:
                    continue
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            finally:
                os.close(fd)
            if path.stat().st_size == 0:
                path.unlink(missing_ok=True)

    def _open_segment(self) -> None:
        name = f"usage-{time.time_ns():020d}-{os.getpid()}-{next(self._sequence):06d}{SUFFIX}"
        path = self.directory / name
        # Made under a name drainers do not list, and named a segment only once locked: a
        # drainer seeing it unlocked would take it for an empty sealed segment and delete it.
        fresh = path.with_name(f"{name}.new")
        fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(fresh, path)
        self._fd, self._path, self._written = fd, path, 0


def segment_started(path: Path) -> float | None:
    """When the segment at `path` was started (Unix time), from its name; None for a name not
    made by `UsageSpool`."""
    try:
        return int(path.name.split("-")[1]) / 1e9
    except (IndexError, ValueError):
        return None


def encode_line(record: UsageRecord) -> bytes:
    """`record.to_json()` as one JSON line, byte for byte, but written by orjson straight from
    the dataclass: `to_json` goes through `dataclasses.asdict`, whose deep copy of every value
    cost more than the rest of a request's bookkeeping together (this is on the hot path)."""
    return orjson.dumps(
        record,
        default=_json_value,
        option=orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_APPEND_NEWLINE,
    )


def _json_value(value: object) -> str:
    """As `UsageRecord.to_json` writes them: money as decimal strings, times as ISO 8601."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"a usage record holds a {type(value).__name__}, which JSON cannot hold")


@contextmanager
def claimed(path: Path) -> Iterator[list[UsageRecord] | None]:
    """The records of a sealed segment, with the segment locked; None when another process
    holds it or it is gone. The caller deletes it (`path.unlink`) once they are stored."""
    with _claimed(path, UsageRecord.from_json) as records:
        yield records


@contextmanager
def claimed_rows(path: Path) -> Iterator[list[UsageRow] | None]:
    """`claimed`, each record read as its `llm_usage_logs` row (`row_from_json`): what the
    usage writer stores, without making record objects on the way."""
    with _claimed(path, row_from_json) as rows:
        yield rows


@contextmanager
def _claimed(path: Path, decode: Callable[[Any], T]) -> Iterator[list[T] | None]:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        yield None
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield None
            return
        if not path.exists() or os.stat(path).st_ino != os.fstat(fd).st_ino:
            yield None  # drained and deleted by another process meanwhile
            return
        with os.fdopen(os.dup(fd), "rb") as file:
            yield _parse(path, file.read(), decode)
    finally:
        os.close(fd)


def _parse(path: Path, data: bytes, decode: Callable[[Any], T]) -> list[T]:
    """Each line's record, by `decode` of its JSON (what `UsageRecord.to_json` writes)."""
    decoded = []
    for number, line in enumerate(data.split(b"\n"), start=1):  # JSON escapes any newline
        if not line.strip():
            continue
        try:
            decoded.append(decode(orjson.loads(line)))
        except (orjson.JSONDecodeError, TypeError, ValueError, KeyError) as error:
            # Only a write cut off by a crash can leave a broken line; keep the rest.
            log_event(
                log,
                logging.ERROR,
                "usage_spool_line_unreadable",
                segment=path.name,
                line=number,
                error=f"{type(error).__name__}: {error}"[:300],
                skipped=True,
            )
    return decoded
