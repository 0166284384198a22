"""The usage writer: spool segments into `llm_usage_logs`, once each, whatever happens."""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import create_engine, event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from switchboard.db import open_database
from switchboard.models import LLMProvider, LLMUsageLog, UserAPIKey, VirtualKey
from switchboard.services.rollups import rebuild_rollups
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.usage import UsageRecord
from switchboard.usage.spool import SUFFIX, UsageSpool, encode_line
from switchboard.usage.store import ROLLUP_COUNTERS, ROLLUPS, store_rows
from switchboard.usage.writer import NICENESS, UsageWriter
from tests.unit.usage.records import MOMENT, full_record


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[UsageSpool]:
    spool = UsageSpool(tmp_path / "spool")
    yield spool
    spool.close()


@pytest.fixture
def writer(spool: UsageSpool, session_factory: sessionmaker[Session]) -> UsageWriter:
    return UsageWriter(spool, session_factory, interval_s=0.02)


def stored_ids(sessions: sessionmaker[Session]) -> list[str]:
    with sessions() as session:
        return list(session.scalars(select(LLMUsageLog.request_id).order_by(LLMUsageLog.id)))


def stored_row(sessions: sessionmaker[Session], request_id: str) -> LLMUsageLog:
    with sessions() as session:
        query = select(LLMUsageLog).where(LLMUsageLog.request_id == request_id)
        return session.scalars(query).one()


def row_count(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return session.scalar(select(func.count()).select_from(LLMUsageLog)) or 0


def spooled(directory: Path) -> list[Path]:
    return sorted(directory.glob(f"*{SUFFIX}"))


def test_drain_stores_every_record_once_and_removes_the_segments(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    for number in range(5):
        spool.append(full_record(number))
        if number % 2:
            spool.rotate()

    assert writer.drain() == 5
    assert writer.drain() == 0

    assert stored_ids(session_factory) == [f"req_{number:08d}" for number in range(5)]
    assert spool.sealed_segments() == []
    assert len(spooled(spool.directory)) == 1  # the new active segment, empty
    assert writer.last_error is None


def test_records_round_trip_exactly_through_the_database(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    records = [full_record(number) for number in range(3)]
    for record in records:
        spool.append(record)
    writer.drain()

    with session_factory() as session:
        rows = session.scalars(select(LLMUsageLog).order_by(LLMUsageLog.request_id)).all()
        stored = [{name: getattr(row, name) for name in records[0].column_values()} for row in rows]
    assert stored == [record.column_values() for record in records]


def test_writing_the_same_segment_twice_adds_nothing(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    """A process killed after the commit and before the delete leaves the segment behind:
    the next drain writes it again, and that must add no row."""
    for number in range(3):
        spool.append(full_record(number))
    spool.rotate()
    (segment,) = spool.sealed_segments()
    copy = spool.directory / f"usage-00000000000000000000-0-000000{SUFFIX}"
    shutil.copy(segment, copy.with_suffix(".keep"))

    assert writer.drain() == 3
    copy.with_suffix(".keep").rename(copy)  # as if it had never been deleted
    spool.append(full_record(3))
    assert writer.drain() == 4

    assert stored_ids(session_factory) == [f"req_{number:08d}" for number in range(4)]
    assert not copy.exists()


# A line as the previous writer's spool holds it (`UsageRecord.to_json`), costs beyond ten
# decimal places; and one from a version before `cached_tokens`, `attempts` and the like.
_OLD_LINE = (
    b'{"request_id":"req_old","user_id":"user-old","model_id":null,"provider_id":null,'
    b'"model_name":"mock-balanced","power_level":"balanced","user_tier":"professional",'
    b'"task_type":"general","prompt_tokens":12,"cached_tokens":0,"completion_tokens":34,'
    b'"usage_estimated":false,"cost_input_usd":"0.000012","cost_cached_usd":"0",'
    b'"cost_output_usd":"0.00006800000005","cost_total_usd":"0.00008000000005",'
    b'"used_byok":true,"user_key_id":null,"virtual_key_id":null,"latency_ms":120,'
    b'"time_to_first_token_ms":null,"status_code":200,"error_type":null,"error_message":null,'
    b'"attempts":1,"request_ip":"127.0.0.1","user_agent":"curl/8.5.0",'
    b'"created_at":"2025-06-01T12:30:45.123456+00:00"}\n'
)
_OLDER_LINE = (
    b'{"request_id":"req_older","user_id":"user-old","prompt_tokens":5,"completion_tokens":6,'
    b'"cost_total_usd":"0.5","created_at":"2025-06-01T13:00:00+00:00"}\n'
)


def test_a_spool_written_by_the_previous_version_is_drained(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    old = UsageRecord.from_json(orjson.loads(_OLD_LINE))
    # The spool's format has only gained `cache_write_tokens` since.
    assert encode_line(old) == _OLD_LINE.replace(
        b'"cached_tokens":0,', b'"cached_tokens":0,"cache_write_tokens":0,'
    )
    segment = spool.directory / f"usage-00000000000000000000-0-000000{SUFFIX}"
    segment.write_bytes(_OLD_LINE + _OLDER_LINE)

    assert writer.drain() == 2

    with session_factory() as session:
        rows = session.scalars(select(LLMUsageLog).order_by(LLMUsageLog.id)).all()
        stored = [{name: getattr(row, name) for name in old.column_values()} for row in rows]
    older = UsageRecord.from_json(orjson.loads(_OLDER_LINE))
    rounded = {
        "cost_output_usd": Decimal("0.0000680000"),
        "cost_total_usd": Decimal("0.0000800000"),
    }
    assert stored == [old.column_values() | rounded, older.column_values()]
    assert stored[1]["attempts"] == 1 and stored[1]["created_at"] == datetime(
        2025, 6, 1, 13, tzinfo=UTC
    )


def test_rollups_are_the_sums_of_the_rows_after_a_segment_is_written_twice(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    """A crash between the commit and the deletion of a segment: written again, it adds
    nothing to the rollups, which stay exactly what rebuilding them from the rows gives."""
    for number in range(40):
        overrides: dict[str, Any] = {"created_at": MOMENT + timedelta(minutes=7 * number)}
        overrides["used_byok"] = number % 3 == 0
        overrides["latency_ms"] = None if number % 5 == 0 else 40 * number
        overrides["status_code"] = 500 if number % 7 == 0 else 200
        overrides["cost_total_usd"] = Decimal(number).scaleb(-11)  # rounded when stored
        spool.append(full_record(number, **overrides))
    spool.rotate()
    (segment,) = spool.sealed_segments()
    kept = segment.read_bytes()
    assert writer.drain() == 40
    segment.write_bytes(kept)
    spool.append(full_record(40))
    assert writer.drain() == 41

    with session_factory() as session:
        incremental = _rollups(session)
        assert rebuild_rollups(session) == {name: len(rows) for name, rows in incremental.items()}
        assert _rollups(session) == incremental
        assert row_count(session_factory) == 41
        hourly = incremental["llm_usage_hourly"].values()
        assert sum(counters["requests"] for counters in hourly) == 41


def _rollups(session: Session) -> dict[str, dict[tuple[Any, ...], dict[str, Any]]]:
    session.expire_all()
    return {
        rollup.table.__tablename__: {
            tuple(getattr(row, name) for name in rollup.key): {
                name: getattr(row, name) for name in ROLLUP_COUNTERS
            }
            for row in session.scalars(select(rollup.table))
        }
        for rollup in ROLLUPS
    }


def test_the_statements_are_the_same_whatever_the_number_of_records(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    """SQLite keeps a few prepared statements per connection (`db.py`): a statement whose
    text changed with the size of a batch would evict the others, and cost memory."""
    with session_factory() as session:
        create_user(session, user_id="u")
        key = issue_virtual_key(session, user_id="u").record.id
    engine = session_factory.kw["bind"]
    texts: set[str] = set()

    def seen(*args: Any) -> None:
        texts.add(args[2])

    number = 0
    for size in (1, 2, 3, 7, 30):
        for _ in range(size):
            spool.append(full_record(number, virtual_key_id=None if number % 2 else key))
            number += 1
        spool.rotate()
        event.listen(engine, "before_cursor_execute", seen)
        try:
            writer.drain()
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        if size == 1:
            first = set(texts)
    assert row_count(session_factory) == number
    assert texts == first
    assert any("last_used_at" in text for text in texts)


def test_a_segment_stored_in_part_before_a_failure_is_completed_once(
    spool: UsageSpool,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches of a segment are committed one by one; a failure after the first leaves the
    segment to be written again whole."""
    monkeypatch.setattr("switchboard.usage.writer.BATCH_SIZE", 2)
    for number in range(5):
        spool.append(full_record(number))
    failing = UsageWriter(spool, _failing_after(session_factory, commits=1), interval_s=1)
    assert failing.drain() == 0
    assert failing.last_error is not None
    assert len(stored_ids(session_factory)) == 2

    assert UsageWriter(spool, session_factory, interval_s=1).drain() == 5
    assert stored_ids(session_factory) == [f"req_{number:08d}" for number in range(5)]


def _failing_after(sessions: sessionmaker[Session], *, commits: int) -> sessionmaker[Session]:
    """Sessions of `sessions` whose commits fail, as a lost connection does, after `commits`."""
    left = [commits]

    class FailingSession(Session):
        def commit(self) -> None:
            if left[0] <= 0:
                raise OperationalError("COMMIT", {}, ConnectionError("connection lost"))
            left[0] -= 1
            super().commit()

    return sessions_of(sessions, FailingSession)


def sessions_of(sessions: sessionmaker[Session], kind: type[Session]) -> sessionmaker[Session]:
    """Sessions on the same engine as `sessions`, of class `kind`."""
    made: sessionmaker[Any] = sessionmaker(
        bind=sessions.kw["bind"], class_=kind, expire_on_commit=False
    )
    return made


def test_two_writers_draining_one_directory_never_take_the_same_segment(
    tmp_path: Path, session_factory: sessionmaker[Session]
) -> None:
    directory = tmp_path / "spool"
    producer = UsageSpool(directory)
    spools = [UsageSpool(directory) for _ in range(2)]
    writers = [UsageWriter(each, session_factory, interval_s=1) for each in spools]
    total = 400
    stored = [0, 0]
    producing = threading.Event()
    producing.set()

    def produce() -> None:
        for number in range(total):
            producer.append(full_record(number))
            if number % 10 == 9:
                producer.rotate()
        producer.rotate()
        producing.clear()

    def drain(index: int) -> None:
        while producing.is_set():
            stored[index] += writers[index].drain()

    threads = [threading.Thread(target=produce)]
    threads += [threading.Thread(target=drain, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    producer.close()
    for index, each in enumerate(writers):
        stored[index] += each.drain()
        spools[index].close()

    assert sum(stored) == total, f"each segment is taken by one writer: {stored}"
    assert row_count(session_factory) == total
    assert spooled(directory) == []


def test_records_wait_in_the_spool_while_the_database_cannot_be_opened(
    tmp_path: Path, spool: UsageSpool
) -> None:
    database = tmp_path / "not-yet" / "switchboard.db"  # its directory does not exist yet
    url = f"sqlite:///{database}"
    sessions = sessionmaker(bind=create_engine(url), expire_on_commit=False)
    writer = UsageWriter(spool, sessions, interval_s=0.02)
    for number in range(3):
        spool.append(full_record(number))

    assert writer.drain() == 0
    spool.append(full_record(3))
    assert writer.drain() == 0
    assert writer.last_error is not None and "OperationalError" in writer.last_error
    assert len(spool.sealed_segments()) == 2  # kept, nothing dropped

    database.parent.mkdir()
    open_database(url).kw["bind"].dispose()  # the database comes back (migrated)
    writer.start()
    try:
        _wait_until(lambda: row_count(sessions) == 4)
    finally:
        writer.stop()
    assert stored_ids(sessions) == [f"req_{number:08d}" for number in range(4)]
    assert writer.last_error is None
    assert spool.sealed_segments() == []
    sessions.kw["bind"].dispose()


def test_stop_stores_what_is_left(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    writer.start()
    for number in range(20):
        spool.append(full_record(number))
    writer.stop()

    assert row_count(session_factory) == 20
    assert spool.sealed_segments() == []


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux gives threads their own niceness")
def test_the_writer_thread_runs_below_the_serving_threads_priority(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    serving = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    writer.start()
    try:
        spool.append(full_record(1))
        deadline = time.monotonic() + 10
        while row_count(session_factory) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        (thread,) = [t for t in threading.enumerate() if t.name == "usage-writer"]
        assert thread.native_id is not None
        assert os.getpriority(os.PRIO_PROCESS, thread.native_id) == min(serving + NICENESS, 19)
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == serving
        assert row_count(session_factory) == 1
    finally:
        writer.stop()


def test_last_used_at_of_keys_is_their_latest_use(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as session:
        create_user(session, user_id="u")
        virtual = issue_virtual_key(session, user_id="u").record.id
        unused = issue_virtual_key(session, user_id="u").record.id
        provider = LLMProvider(provider_name="Mock", provider_slug="mock")
        session.add(provider)
        session.flush()
        byok = UserAPIKey(user_id="u", provider_id=provider.id, encrypted_api_key="x")
        session.add(byok)
        session.commit()
        byok_id = byok.id

    def used(number: int, minutes: int, **keys: Any) -> UsageRecord:
        return full_record(number, created_at=MOMENT + timedelta(minutes=minutes), **keys)

    # Out of order within a segment (a clock step back), and an older segment after a newer.
    spool.append(used(1, 5, virtual_key_id=virtual, user_key_id=byok_id))
    spool.append(used(2, 9, virtual_key_id=virtual))
    spool.append(used(3, 7, virtual_key_id=virtual, user_key_id=byok_id))
    spool.append(used(4, 1, virtual_key_id=virtual, user_key_id=byok_id))
    writer.drain()
    spool.append(used(5, 3, virtual_key_id=virtual, user_key_id=byok_id))
    writer.drain()

    with session_factory() as session:
        assert session.get(VirtualKey, virtual).last_used_at == MOMENT + timedelta(minutes=9)  # type: ignore[union-attr]
        assert session.get(UserAPIKey, byok_id).last_used_at == MOMENT + timedelta(minutes=7)  # type: ignore[union-attr]
        assert session.get(VirtualKey, unused).last_used_at is None  # type: ignore[union-attr]


def _wait_until(condition: Any, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        time.sleep(0.02)


def test_a_record_whose_key_was_deleted_meanwhile_is_stored_and_holds_nothing_back(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    """The key (or model) a record names may be deleted while the record waits in the
    spool; its row is written as if it had been stored before (the reference set to NULL,
    as `ondelete="SET NULL"` does), and the segments after it are written too."""
    with session_factory() as session:
        create_user(session, user_id="gone")
        key = issue_virtual_key(session, user_id="gone").record
        key_id = key.id
    spool.append(full_record(1, virtual_key_id=key_id))
    spool.rotate()
    spool.append(full_record(2))
    with session_factory() as session:
        session.delete(session.get(VirtualKey, key_id))
        session.commit()

    writer.drain()

    assert stored_ids(session_factory) == ["req_00000001", "req_00000002"]
    assert stored_row(session_factory, "req_00000001").virtual_key_id is None
    assert spool.sealed_segments() == []


def test_text_longer_than_its_column_is_stored_cut_and_holds_nothing_back(
    spool: UsageSpool, writer: UsageWriter, session_factory: sessionmaker[Session]
) -> None:
    """PostgreSQL refuses a string longer than its VARCHAR; the record must still be stored
    (its text cut to fit), not block every segment after it."""
    spool.append(full_record(1, task_type="t" * 80, user_agent="a" * 600))
    spool.rotate()
    spool.append(full_record(2))

    writer.drain()

    assert stored_ids(session_factory) == ["req_00000001", "req_00000002"]
    row = stored_row(session_factory, "req_00000001")
    assert row.task_type == "t" * 50
    assert row.user_agent == "a" * 500


def test_a_segment_the_database_refuses_stays_spooled_and_holds_nothing_back(
    spool: UsageSpool,
    writer: UsageWriter,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse_the_first(session: Session, rows: Any) -> int:
        if any(row["request_id"] == "req_00000001" for row in rows):
            raise IntegrityError("INSERT", {}, ValueError("refused for a reason unforeseen"))
        return store_rows(session, rows)

    monkeypatch.setattr("switchboard.usage.writer.store_rows", refuse_the_first)
    spool.append(full_record(1))
    spool.rotate()
    spool.append(full_record(2))

    assert writer.drain() == 1
    assert stored_ids(session_factory) == ["req_00000002"]
    assert writer.last_error is not None and writer.last_error.startswith("IntegrityError")
    assert len(spool.sealed_segments()) == 1

    monkeypatch.undo()  # whatever it was is mended: the kept segment goes in
    assert writer.drain() == 1
    assert stored_ids(session_factory) == ["req_00000002", "req_00000001"]
    assert writer.last_error is None
    assert spool.sealed_segments() == []


def test_an_unreachable_database_stops_the_drain_at_the_first_segment(
    spool: UsageSpool, session_factory: sessionmaker[Session]
) -> None:
    attempts: list[int] = []

    class Unreachable(Session):
        def commit(self) -> None:
            attempts.append(1)
            raise OperationalError("COMMIT", {}, ConnectionError("connection refused"))

    for number in range(3):
        spool.append(full_record(number))
        spool.rotate()
    sessions = sessions_of(session_factory, Unreachable)

    assert UsageWriter(spool, sessions, interval_s=1).drain() == 0
    assert len(attempts) == 1
    assert len(spool.sealed_segments()) == 3
