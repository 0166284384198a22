"""What the usage writer logs: a state when it begins and when it ends (the database out of
reach, a backlog, a refused segment), never once per drain."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from switchboard.db import open_database
from switchboard.usage.spool import SUFFIX, UsageSpool, encode_line, segment_started
from switchboard.usage.store import store_rows
from switchboard.usage.writer import BACKLOG_AGE_S, BACKLOG_SEGMENTS, UsageWriter
from tests.unit.usage.records import full_record

LOGGER = "switchboard.usage.writer"


@pytest.fixture
def spool(tmp_path: Path) -> Iterator[UsageSpool]:
    spool = UsageSpool(tmp_path / "spool")
    yield spool
    spool.close()


def events(caplog: pytest.LogCaptureFixture) -> list[tuple[str, dict[str, Any]]]:
    return [(r.msg, r.fields) for r in caplog.records if r.name == LOGGER]


def old_segment(spool: UsageSpool, number: int, age_s: float) -> Path:
    """A sealed segment started `age_s` ago, as a process that could not drain it left it."""
    started = time.time_ns() - int(age_s * 1e9)
    path = spool.directory / f"usage-{started:020d}-{os.getpid()}-{number:06d}{SUFFIX}"
    path.write_bytes(encode_line(full_record(number)))
    return path


def test_a_segment_says_when_it_was_started(spool: UsageSpool) -> None:
    path = old_segment(spool, 1, age_s=90)

    assert time.time() - (segment_started(path) or 0) == pytest.approx(90, abs=5)
    assert segment_started(path.with_name("notes.jsonl")) is None


def test_an_unreachable_database_is_told_once_and_so_is_its_return(
    tmp_path: Path, spool: UsageSpool, caplog: pytest.LogCaptureFixture
) -> None:
    database = tmp_path / "not-yet" / "switchboard.db"
    url = f"sqlite:///{database}"
    sessions = sessionmaker(bind=create_engine(url), expire_on_commit=False)
    writer = UsageWriter(spool, sessions, interval_s=0.02)

    with caplog.at_level(logging.INFO, logger=LOGGER):
        for number in range(3):
            spool.append(full_record(number))
            writer.drain()
        database.parent.mkdir()
        open_database(url).kw["bind"].dispose()
        assert writer.drain() == 3
        writer.drain()

    assert events(caplog) == [
        (
            "usage_write_failed",
            {
                "cause": "database_unreachable",
                "error": "OperationalError",
                "segments_waiting": 1,
                "will_retry": True,
            },
        ),
        ("usage_write_recovered", {"records_stored": 3}),
    ]
    sessions.kw["bind"].dispose()


def test_a_refused_segment_is_told_once_however_often_it_is_tried(
    spool: UsageSpool,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(session: Session, rows: Any) -> int:
        raise IntegrityError("INSERT …", {"secret": "row values"}, ValueError("a reason\nmore"))

    monkeypatch.setattr("switchboard.usage.writer.store_rows", refuse)
    writer = UsageWriter(spool, session_factory, interval_s=0.02)
    spool.append(full_record(1))

    with caplog.at_level(logging.INFO, logger=LOGGER):
        for _ in range(3):
            assert writer.drain() == 0
    (segment,) = spool.sealed_segments()

    assert events(caplog) == [
        (
            "usage_segment_refused",
            {
                "segment": segment.name,
                "records": 1,
                "error": "IntegrityError",
                "detail": "a reason",
                "kept": True,
            },
        )
    ]
    monkeypatch.setattr("switchboard.usage.writer.store_rows", store_rows)
    assert writer.drain() == 1


def test_a_backlog_of_old_segments_is_told_and_so_is_its_end(
    spool: UsageSpool, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    old_segment(spool, 1, age_s=BACKLOG_AGE_S + 30)
    writer = UsageWriter(spool, session_factory, interval_s=0.02)

    with caplog.at_level(logging.INFO, logger=LOGGER):
        assert writer.drain() == 1
        writer.drain()
        writer.drain()

    (backlog, fields), cleared = events(caplog)
    assert backlog == "usage_backlog"
    assert fields["segments_waiting"] == 1
    assert fields["oldest_age_s"] == pytest.approx(BACKLOG_AGE_S + 30, abs=5)
    assert cleared == ("usage_backlog_cleared", {})


def test_many_waiting_segments_are_a_backlog_and_fresh_ones_are_not(
    spool: UsageSpool, session_factory: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    writer = UsageWriter(spool, session_factory, interval_s=0.02)
    for number in range(BACKLOG_SEGMENTS + 5):  # as other workers' active segments are
        old_segment(spool, number, age_s=0.1)

    with caplog.at_level(logging.INFO, logger=LOGGER):
        writer.drain()
        for number in range(BACKLOG_SEGMENTS + 1):
            old_segment(spool, 100 + number, age_s=20)
        writer.drain()

    assert [event for event, _ in events(caplog)] == ["usage_backlog"]
    assert events(caplog)[0][1]["segments_waiting"] == BACKLOG_SEGMENTS + 1
