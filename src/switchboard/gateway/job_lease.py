"""A named job's lease in `llm_leases`: which replica runs the job until when.

`take` succeeds with a conditional UPDATE (or the first INSERT) only when the previous
holder's lease has run out; the lease then lasts `duration_s` and is kept until it runs out,
by its holder too, so the job runs at most once per duration across all replicas.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.models import Lease


def _process_holder() -> str:
    """This process's name as a lease holder: host, process id, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobLease:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        name: str,
        duration_s: float,
        holder: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self.name = name
        self.duration_s = duration_s
        self.holder = holder or _process_holder()
        self._clock = clock

    def take(self) -> tuple[bool, datetime]:
        """Take the lease for `duration_s` if its holder's has run out. Returns whether it was
        taken, and when the current lease (ours or another's) runs out."""
        now = self._clock()
        until = now + timedelta(seconds=self.duration_s)
        with self._sessions() as session:
            taken = cast(
                "CursorResult[Any]",
                session.execute(
                    update(Lease)
                    .where(Lease.name == self.name, Lease.expires_at <= now)
                    .values(holder=self.holder, expires_at=until)
                ),
            )
            if taken.rowcount == 1:
                session.commit()
                return True, until
            current = session.scalar(select(Lease.expires_at).where(Lease.name == self.name))
            if current is not None:
                session.rollback()
                return False, current
            try:
                session.execute(
                    insert(Lease).values(name=self.name, holder=self.holder, expires_at=until)
                )
                session.commit()
            except IntegrityError:  # another replica inserted it first
                session.rollback()
                return False, until
        return True, until
