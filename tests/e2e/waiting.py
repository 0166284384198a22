"""Waiting for what the gateway writes in the background (usage rows) to reach the database."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import openai
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import LLMUsageLog


def wait_for_usage_rows(
    sessions: sessionmaker[Session], request_ids: Sequence[str], timeout_s: float = 15.0
) -> list[LLMUsageLog]:
    """The usage rows of `request_ids`, in that order, once all are stored."""
    deadline = time.monotonic() + timeout_s
    while True:
        with sessions() as session:
            rows = {
                row.request_id: row
                for row in session.scalars(
                    select(LLMUsageLog).where(LLMUsageLog.request_id.in_(request_ids))
                )
            }
        if len(rows) == len(request_ids):
            return [rows[request_id] for request_id in request_ids]
        if time.monotonic() > deadline:
            missing = sorted(set(request_ids) - set(rows))
            raise AssertionError(f"usage rows never arrived for {missing}")
        time.sleep(0.05)


def usage_row(sessions: sessionmaker[Session], headers: Any) -> LLMUsageLog:
    """The one usage row of the request answered with `headers`."""
    (row,) = wait_for_usage_rows(sessions, [headers["x-switchboard-request-id"]])
    return row


def refusal_row(sessions: sessionmaker[Session], error: openai.APIStatusError) -> LLMUsageLog:
    """The one usage row of the request the gateway refused (or failed) with `error`."""
    (row,) = wait_for_usage_rows(sessions, [error.response.headers["x-request-id"]])
    return row
