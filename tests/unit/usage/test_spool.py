"""The usage spool: segments appended, sealed, claimed under a lock, read back exactly."""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from switchboard.usage import UsageRecord
from switchboard.usage.spool import SUFFIX, UsageSpool, claimed, claimed_rows
from tests.unit.usage.records import full_record

# Holds an exclusive flock on argv[1] until its stdin closes: a process other than ours.
_HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
fcntl.flock(fd, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[UsageSpool]:
    spool = UsageSpool(tmp_path / "spool")
    yield spool
    spool.close()


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def read_segment(path: Path) -> list[UsageRecord]:
    with claimed(path) as records:
        assert records is not None
        return list(records)


def test_append_writes_one_json_line_to_the_active_segment_at_once(spool: UsageSpool) -> None:
    spool.append(full_record(1))
    spool.append(full_record(2))

    (active,) = segments(spool.directory)
    lines = active.read_bytes().splitlines()
    assert [orjson.loads(line)["request_id"] for line in lines] == ["req_00000001", "req_00000002"]
    assert spool.sealed_segments() == []  # the active segment is nobody's to drain


def test_rotate_seals_the_active_segment_and_starts_another(spool: UsageSpool) -> None:
    spool.append(full_record(1))
    assert spool.rotate() is True
    spool.append(full_record(2))
    assert spool.rotate() is True

    sealed = spool.sealed_segments()
    assert len(sealed) == 2
    assert [[r.request_id for r in read_segment(p)] for p in sealed] == [
        ["req_00000001"],
        ["req_00000002"],
    ]
    assert len(segments(spool.directory)) == 3  # and the new, empty, active one


def test_a_segment_is_sealed_once_it_holds_its_limit_of_records(tmp_path: Path) -> None:
    spool = UsageSpool(tmp_path / "spool", segment_records=3)
    try:
        for number in range(7):
            spool.append(full_record(number))
        sealed = [[r.request_id for r in read_segment(p)] for p in spool.sealed_segments()]
        assert sealed == [
            ["req_00000000", "req_00000001", "req_00000002"],
            ["req_00000003", "req_00000004", "req_00000005"],
        ]
        assert spool.rotate() is True  # the seventh, in the active segment
        assert [r.request_id for r in read_segment(spool.sealed_segments()[2])] == ["req_00000006"]
    finally:
        spool.close()


def test_rotate_with_nothing_written_keeps_the_segment(spool: UsageSpool) -> None:
    assert spool.rotate() is False
    assert spool.sealed_segments() == []
    assert len(segments(spool.directory)) == 1


def test_sealed_segments_are_listed_oldest_first(spool: UsageSpool) -> None:
    for number in range(12):
        spool.append(full_record(number))
        spool.rotate()
    order = [read_segment(path)[0].request_id for path in spool.sealed_segments()]
    assert order == [f"req_{number:08d}" for number in range(12)]


def test_close_removes_an_empty_active_segment_and_keeps_a_written_one(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    empty = UsageSpool(directory)
    empty.close()
    assert segments(directory) == []

    written = UsageSpool(directory)
    written.append(full_record(1))
    written.close()
    (left,) = segments(directory)
    assert [r.request_id for r in read_segment(left)] == ["req_00000001"]


def test_records_round_trip_exactly(spool: UsageSpool) -> None:
    records = [
        full_record(1),
        full_record(2, cost_total_usd=Decimal("0.00000000000000000001")),
        full_record(3, error_type=None, error_message=None, time_to_first_token_ms=None),
    ]
    for record in records:
        spool.append(record)
    spool.rotate()
    (sealed,) = spool.sealed_segments()

    assert read_segment(sealed) == records
    assert read_segment(sealed)[0].created_at.tzinfo is not None


def test_claimed_skips_a_segment_another_process_holds(spool: UsageSpool) -> None:
    spool.append(full_record(1))
    spool.rotate()
    (sealed,) = spool.sealed_segments()
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(sealed)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"locked\n"
        with claimed(sealed) as records:
            assert records is None
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.stdout.close()
        holder.wait(10)
    assert [r.request_id for r in read_segment(sealed)] == ["req_00000001"]


def test_claimed_skips_the_active_segment_of_another_spool(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    writing, draining = UsageSpool(directory), UsageSpool(directory)
    try:
        writing.append(full_record(1))
        (theirs,) = draining.sealed_segments()  # not ours, so listed; but it is locked
        with claimed(theirs) as records:
            assert records is None
        writing.rotate()  # sealed: now it may be taken
        with claimed(theirs) as records:
            assert records is not None
            assert [r.request_id for r in records] == ["req_00000001"]
    finally:
        writing.close()
        draining.close()


def test_claimed_holds_the_lock_while_the_caller_works(spool: UsageSpool) -> None:
    spool.append(full_record(1))
    spool.rotate()
    (sealed,) = spool.sealed_segments()
    with claimed(sealed) as records:
        assert records is not None
        fd = os.open(sealed, os.O_RDONLY)
        try:
            with pytest.raises(BlockingIOError):
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(fd)
        with claimed(sealed) as again:
            assert again is None


def test_claimed_gives_nothing_for_a_segment_already_gone(tmp_path: Path) -> None:
    with claimed(tmp_path / f"usage-gone{SUFFIX}") as records:
        assert records is None


def test_a_truncated_last_line_is_skipped_and_the_rest_kept(
    spool: UsageSpool, caplog: pytest.LogCaptureFixture
) -> None:
    for number in range(3):
        spool.append(full_record(number))
    spool.rotate()
    (sealed,) = spool.sealed_segments()
    whole = orjson.dumps(full_record(99).to_json())
    with sealed.open("ab") as file:  # a write cut off by a crash: no newline, half a record
        file.write(whole[: len(whole) // 2])

    with caplog.at_level(logging.ERROR, logger="switchboard.usage.spool"):
        records = read_segment(sealed)

    assert [r.request_id for r in records] == [
        "req_00000000",
        "req_00000001",
        "req_00000002",
    ]
    (unreadable,) = [r for r in caplog.records if r.msg == "usage_spool_line_unreadable"]
    assert unreadable.fields["segment"] == sealed.name
    assert unreadable.fields["line"] == 4


def test_an_unreadable_line_in_the_middle_does_not_hide_the_lines_after_it(
    spool: UsageSpool,
) -> None:
    spool.append(full_record(1))
    spool.rotate()
    (sealed,) = spool.sealed_segments()
    with sealed.open("ab") as file:
        file.write(b'{"request_id": "no-user-id"}\n\n not json\n')
        file.write(orjson.dumps(full_record(2).to_json()) + b"\n")

    assert [r.request_id for r in read_segment(sealed)] == ["req_00000001", "req_00000002"]


def test_a_record_from_a_newer_version_keeps_its_known_fields(spool: UsageSpool) -> None:
    spool.append(full_record(1))
    spool.rotate()
    (sealed,) = spool.sealed_segments()
    values = full_record(2).to_json() | {"field_from_the_future": [1, 2]}
    with sealed.open("ab") as file:
        file.write(orjson.dumps(values) + b"\n")

    assert read_segment(sealed)[1] == full_record(2)


def test_claimed_rows_reads_each_record_as_its_row(spool: UsageSpool) -> None:
    """What the usage writer reads: each record's `column_values()`, whatever version of
    the record the line holds, and the same lines skipped as unreadable."""
    spool.append(full_record(1))
    spool.append(UsageRecord(request_id="bare", user_id="u"))
    spool.rotate()
    (sealed,) = spool.sealed_segments()
    older = full_record(2).to_json()
    for name in ("attempts", "time_to_first_token_ms", "cost_cached_usd", "usage_estimated"):
        del older[name]  # fields a previous version may not have written
    with sealed.open("ab") as file:
        file.write(orjson.dumps(older) + b"\n")
        file.write(orjson.dumps(full_record(3).to_json() | {"from_the_future": 1}) + b"\n")
        file.write(b'{"request_id": "no-user-id", "created_at": "2025-06-01T12:00:00"}\n')
        file.write(b'{"user_id": "u", "created_at": "2025-06-01T12:00:00+00:00"}\n')

    with claimed_rows(sealed) as rows:
        assert rows is not None
    records = read_segment(sealed)
    assert [r.request_id for r in records] == [
        "req_00000001",
        "bare",
        "req_00000002",
        "req_00000003",
    ]
    assert rows == [record.column_values() for record in records]
    assert rows[2]["attempts"] == 1 and rows[2]["cost_cached_usd"] == Decimal(0)


def test_a_new_segment_is_never_visible_to_a_drainer_before_it_is_locked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process draining the directory at the moment a spool opens its next segment
    must not take it: it would find it empty, delete it, and the records written to it
    next would go to a deleted file."""
    directory = tmp_path / "spool"
    drainer = UsageSpool(directory)
    real_flock = fcntl.flock
    taken: list[str] = []

    def drain_first(fd: int, operation: int) -> None:
        if operation == fcntl.LOCK_EX:  # the spool locking a segment it has just created
            for path in drainer.sealed_segments():
                with claimed(path) as records:
                    if records is not None:  # what `UsageWriter.drain` does once stored
                        taken.extend(record.request_id for record in records)
                        path.unlink()
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", drain_first)
    spool = UsageSpool(directory)
    try:
        for number in range(3):
            spool.append(full_record(number))
            spool.rotate()
    finally:
        monkeypatch.undo()
        spool.close()
    left = [r.request_id for path in drainer.sealed_segments() for r in read_segment(path)]
    drainer.close()
    assert sorted(taken + left) == ["req_00000000", "req_00000001", "req_00000002"]


def test_half_made_segments_of_killed_processes_are_removed_once_old(tmp_path: Path) -> None:
    directory = tmp_path / "spool"
    directory.mkdir()
    abandoned = directory / "usage-00000000000000000001-1-000000.jsonl.new"
    abandoned.touch()
    an_hour_ago = time.time() - 3600
    os.utime(abandoned, (an_hour_ago, an_hour_ago))
    just_made = directory / "usage-00000000000000000002-2-000000.jsonl.new"
    just_made.touch()

    spool = UsageSpool(directory)
    try:
        assert not abandoned.exists()
        assert just_made.exists()  # it may be another process's, a moment before its lock
    finally:
        spool.close()
