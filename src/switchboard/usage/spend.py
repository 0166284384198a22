"""What an owner (a user, or one virtual key) spent in a stretch of time, from what is stored
and what is still in the spool: the sum a budget's counters are rebuilt from.

A user's spend is read from the rollups for whole days and whole hours (a few rows), and from
the usage rows for the rest of the last hour; a key's from its usage rows (the rollups have no
key). The spool's records not yet stored (the writer drains it every half second) are added,
each request id once: a record is counted from the spool only if its row is not stored.
Money comes back in integer units of 10⁻¹⁰ dollars, summed exactly on both databases.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Float, Integer, cast, func, literal_column, select
from sqlalchemy.orm import Session

from switchboard._types import MONEY_PLACES
from switchboard.models import LLMUsageLog
from switchboard.models.usage import LLMUsageDaily, LLMUsageHourly
from switchboard.usage.spool import SUFFIX
from switchboard.usage.store import Grain, as_utc, money_units

log = logging.getLogger(__name__)

_UNITS: ColumnElement[Any] = literal_column(str(10**MONEY_PLACES))


@dataclass(frozen=True, slots=True)
class Owner:
    """Whose spend: a user's (`key_id` None) or one of their keys'; BYOK spend or not."""

    user_id: str
    key_id: int | None
    include_byok: bool


def stored_spend(session: Session, owner: Owner, start: datetime, until: datetime) -> int:
    """Units spent in [start, until) by `owner`, as the database holds it."""
    dialect = session.get_bind().dialect.name
    start, until = as_utc(start), as_utc(until)
    if owner.key_id is not None:
        return _rows_spend(session, dialect, owner, start, until)
    # Whole days from the daily rollup, then whole hours of what is left from the hourly one,
    # each with the rows before it; the rows after the last whole hour end it.
    total, rest = 0, start
    for grain, rollup in ((Grain.DAY, LLMUsageDaily), (Grain.HOUR, LLMUsageHourly)):
        first, last = grain.ceil(rest), grain.start(until)
        if first < last:
            total += _rows_spend(session, dialect, owner, rest, first)
            total += _rollup_spend(session, dialect, rollup, owner, first, last)
            rest = last
    return total + _rows_spend(session, dialect, owner, rest, until)


def pending_records(directory: Path) -> list[dict[str, Any]]:
    """The records in the spool's segments (sealed or being written), as their JSON: read, not
    claimed, so nothing is taken from the writer. A line cut short by a crash is skipped."""
    records = []
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue  # stored and removed meanwhile
        for line in data.split(b"\n"):
            if not line.strip():
                continue
            try:
                records.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return records


def pending_spend(
    session: Session,
    records: Iterable[dict[str, Any]],
    owner: Owner,
    start: datetime,
    until: datetime,
) -> int:
    """Units spent by `owner` in [start, until) per spool `records` whose rows are not stored
    (read after `pending_records`, so a record stored meanwhile is counted by the database)."""
    start, until = as_utc(start), as_utc(until)
    matching: dict[str, int] = {}
    for record in records:
        try:
            if not _counts(record, owner):
                continue
            created = as_utc(datetime.fromisoformat(record["created_at"]))
            if start <= created < until:
                matching[str(record["request_id"])] = money_units(Decimal(record["cost_total_usd"]))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            continue
    if not matching:
        return 0
    stored = set(
        session.scalars(
            select(LLMUsageLog.request_id).where(LLMUsageLog.request_id.in_(list(matching)))
        )
    )
    return sum(units for request_id, units in matching.items() if request_id not in stored)


def _counts(record: dict[str, Any], owner: Owner) -> bool:
    if record.get("user_id") != owner.user_id:
        return False
    if owner.key_id is not None and record.get("virtual_key_id") != owner.key_id:
        return False
    return owner.include_byok or not record.get("used_byok")


def _money_sum(dialect: str, amount: Any) -> ColumnElement[Any]:
    if dialect == "sqlite":  # REAL: summed as integer units, exact
        return func.sum(cast(func.round(cast(amount, Float) * _UNITS), Integer))
    return func.sum(amount)


def _units(dialect: str, value: object) -> int:
    if value is None:
        return 0
    if dialect == "sqlite":
        return int(str(value))
    return money_units(Decimal(str(value)))


def _rows_spend(
    session: Session, dialect: str, owner: Owner, start: datetime, until: datetime
) -> int:
    if start >= until:
        return 0
    log_ = LLMUsageLog
    where = [log_.user_id == owner.user_id, log_.created_at >= start, log_.created_at < until]
    if owner.key_id is not None:
        where.append(log_.virtual_key_id == owner.key_id)
    if not owner.include_byok:
        where.append(log_.used_byok.is_(False))
    return _units(
        dialect, session.scalar(select(_money_sum(dialect, log_.cost_total_usd)).where(*where))
    )


def _rollup_spend(
    session: Session,
    dialect: str,
    table: type[LLMUsageDaily] | type[LLMUsageHourly],
    owner: Owner,
    start: datetime,
    until: datetime,
) -> int:
    if start >= until:
        return 0
    where = [
        table.user_id == owner.user_id,
        table.bucket_start >= start,
        table.bucket_start < until,
    ]
    total = session.scalar(select(_money_sum(dialect, table.cost_total_usd)).where(*where))
    units = _units(dialect, total)
    if not owner.include_byok:
        byok = session.scalar(select(_money_sum(dialect, table.byok_cost_total_usd)).where(*where))
        units -= _units(dialect, byok)
    return units
