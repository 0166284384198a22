"""`get_test_db()`, which the spec's own unit test calls: the session of the running test."""

from __future__ import annotations

from contextvars import ContextVar

from sqlalchemy.orm import Session

current_session: ContextVar[Session] = ContextVar("current_session")


def get_test_db() -> Session:
    return current_session.get()
