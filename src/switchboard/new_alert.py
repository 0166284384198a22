"""An alert to raise: what an alert rule found (`alerts.findings`, pure) in the shape the
outbox stores it (`services.alert_outbox`). One type for both, beside `vocabulary` so that
neither layer has to import the other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from switchboard.vocabulary import AlertKind


@dataclass(frozen=True, slots=True)
class NewAlert:
    """The rule that found it, its subject (`user:ada`, `key:12`, `platform`, `provider:3`)
    and a dedup key that says which occurrence it is (a budget period and threshold, a day,
    an outage)."""

    rule_id: int
    kind: AlertKind
    subject: str
    dedup_key: str
    message: str
    details: Mapping[str, Any] = field(default_factory=dict)
    resolves: int | None = None
    """The id of an alert this one ends (a provider's outage, when it recovers): resolved in
    the same transaction."""
