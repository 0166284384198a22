"""Change counters: how one process learns that another changed something, from one row.

A counter is raised by one in the transaction of each change of its kind, so every committed
change moves it, however close together two changes come and whatever the clock of the
process that made them says; and it never goes back, so no later change can bring back a
value already seen. (The newest `updated_at` can do neither: two changes in one clock tick,
or one written by a replica whose clock is behind, leave it where it was.) The gateway reads
`CREDENTIALS` in its catalog poll, one more column in that query.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, ScalarSelect, select, update
from sqlalchemy.orm import Session

from switchboard.models import ChangeCounter

CREDENTIALS = "credentials"
"""Raised by every change to a user, a virtual key or a BYOK key that a gateway's key cache
may hold. (Not by new users and virtual keys: no cache entry can depend on them.)"""


def bump(session: Session, name: str) -> None:
    """Raise counter `name` by one in the session's transaction (call it last before the
    commit: on PostgreSQL the row stays locked until then). The migration that adds a
    counter makes its row; should the row be missing, it is made here."""
    raised = session.execute(
        update(ChangeCounter)
        .where(ChangeCounter.name == name)
        .values(value=ChangeCounter.value + 1)
    )
    if not cast(CursorResult[Any], raised).rowcount:
        session.add(ChangeCounter(name=name, value=1))
        session.flush()


def current_value(name: str) -> ScalarSelect[int]:
    """Counter `name` as a column of a query: its value, NULL while it has no row."""
    return select(ChangeCounter.value).where(ChangeCounter.name == name).scalar_subquery()
