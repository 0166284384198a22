"""Usage records: one per request, the bill. Built here, stored by `usage.store`."""

from switchboard.usage.record import UsageRecord
from switchboard.usage.store import write_records

__all__ = ["UsageRecord", "write_records"]
