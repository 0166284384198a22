"""A round of evaluation: every active rule over what it watches, read through the services
and the gateway (budgets from the limits' counters, the rest from the database), judged by
`findings`, and each finding raised (once, whatever other replicas do: `alert_outbox`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session, sessionmaker

from switchboard._types import utcnow
from switchboard.alerts import findings
from switchboard.alerts.findings import BudgetStanding, ProviderHealth, Rule
from switchboard.gateway.limits_gate import BudgetState
from switchboard.gateway.service import Gateway
from switchboard.jobs import DatabaseWork
from switchboard.logs import log_event
from switchboard.models import AlertRule
from switchboard.new_alert import NewAlert
from switchboard.services import alert_facts, alert_rules
from switchboard.services.alert_outbox import raise_alert, resolve_alerts
from switchboard.vocabulary import AlertKind, AlertScope, HealthStatus

log = logging.getLogger(__name__)

RULES_MAX_AGE_S = 2.0
"""How long a process uses the rules it read before reading them again."""
_BUDGET_KINDS = frozenset({AlertKind.BUDGET_THRESHOLD, AlertKind.SPEND_FORECAST})
_TRAFFIC_KINDS = frozenset({AlertKind.ERROR_RATE, AlertKind.LATENCY_P95})


def rule_of(row: AlertRule) -> Rule:
    return Rule(
        id=row.id,
        name=row.name,
        kind=AlertKind(row.kind),
        scope=AlertScope(row.scope) if row.scope else None,
        subject=row.subject,
        thresholds=tuple(row.thresholds or findings.DEFAULT_THRESHOLDS),
        factor=Decimal(row.factor) if row.factor is not None else None,
        threshold=Decimal(row.threshold) if row.threshold is not None else None,
        window_minutes=row.window_minutes,
    )


def standing_of(state: BudgetState) -> BudgetStanding:
    return BudgetStanding(
        scope=AlertScope(str(state.scope)),
        owner=state.owner,
        tier=str(state.tier),
        limit_units=state.limit_units,
        spent_units=state.spent_units,
        period_start=state.period_start,
        period_end=state.period_end,
        user_id=state.user_id,
    )


class Evaluator:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        gateway: Gateway,
        *,
        work: DatabaseWork,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._gateway = gateway
        self._work = work
        self._clock = clock
        self._rules: list[Rule] = []
        self._rules_read_at: float | None = None

    async def rules(self) -> list[Rule]:
        """The active rules, read again when older than RULES_MAX_AGE_S."""
        now = time.monotonic()
        if self._rules_read_at is None or now - self._rules_read_at > RULES_MAX_AGE_S:
            self._rules = await self._work.run(self._read_rules)
            self._rules_read_at = now
        return self._rules

    def fresh_rules(self) -> list[Rule] | None:
        """The active rules if read within RULES_MAX_AGE_S, else None; never reads them."""
        read_at = self._rules_read_at
        if read_at is None or time.monotonic() - read_at > RULES_MAX_AGE_S:
            return None
        return self._rules

    async def evaluate(self) -> int:
        """Evaluate every active rule now; how many alerts were newly raised. A rule whose
        data cannot be read now (Redis or the database away) is logged and left to the next
        round; the others are evaluated."""
        self._rules_read_at = None
        rules = await self.rules()
        found: list[NewAlert] = []
        resolved: list[int] = []
        budget_rules = [rule for rule in rules if rule.kind in _BUDGET_KINDS]
        if budget_rules:
            with _logged(AlertKind.BUDGET_THRESHOLD):
                found += await self._budget_findings(budget_rules)
        for rule in rules:
            if rule.kind in _BUDGET_KINDS:
                continue
            with _logged(rule.kind):
                if rule.kind in _TRAFFIC_KINDS:
                    episodes = await self._work.run(self._traffic, rule)
                    found += episodes.raised
                    resolved += episodes.resolved
                else:
                    found += await self._work.run(self._READERS[rule.kind], self, rule)
        if resolved:
            await self._work.run(self._resolve, resolved)
        return await self.raise_all(found)

    async def raise_all(self, found: Iterable[NewAlert]) -> int:
        listed = list(found)
        return await self._work.run(self._raise, listed) if listed else 0

    async def _budget_findings(self, rules: list[Rule]) -> list[NewAlert]:
        tiers = [
            str(tier)
            for tier, allowance in self._gateway.limits.tiers.items()
            if allowance.budget_units is not None
        ]
        user_ids = await self._work.run(self._users_with_budgets, tiers)
        now = self._clock()
        found: list[NewAlert] = []
        for user_id in user_ids:
            for state in await self._gateway.budget_standings(user_id):
                standing = standing_of(state)
                for rule in rules:
                    if rule.kind is AlertKind.BUDGET_THRESHOLD:
                        found += findings.budget_thresholds(rule, standing)
                    elif findings.applies(rule, standing):
                        last_day = await self._work.run(self._last_day, state, now)
                        forecast = findings.spend_forecast(
                            rule, standing, last_day_units=last_day, now=now
                        )
                        found += [forecast] if forecast else []
        return found

    # In worker threads ------------------------------------------------------------------

    def _read_rules(self) -> list[Rule]:
        with self._sessions() as session:
            return [rule_of(row) for row in alert_rules.active_rules(session)]

    def _users_with_budgets(self, tiers: list[str]) -> list[str]:
        with self._sessions() as session:
            return alert_facts.users_with_budgets(session, tiers)

    def _last_day(self, state: BudgetState, now: datetime) -> int:
        with self._sessions() as session:
            return alert_facts.owner_spend(
                session,
                user_id=state.user_id,
                key_id=int(state.owner) if str(state.scope) == AlertScope.KEY else None,
                include_byok=state.include_byok,
                start=now - timedelta(days=1),
                until=now,
            )

    def _anomaly(self, rule: Rule) -> list[NewAlert]:
        now = self._clock()
        today = now.replace(hour=0, minute=0, second=0, microsecond=0)
        day = timedelta(days=1)
        with self._sessions() as session:
            today_units = alert_facts.platform_spend(session, today, today + day)
            previous = [
                alert_facts.platform_spend(session, today - day * n, today - day * (n - 1))
                for n in range(1, findings.ANOMALY_DAYS + 1)
            ]
        finding = findings.spend_anomaly(
            rule, today=today, today_units=today_units, previous_days=previous
        )
        return [finding] if finding else []

    def _provider_health(self, rule: Rule) -> list[NewAlert]:
        with self._sessions() as session:
            states = alert_facts.provider_states(session)
            outages = alert_facts.open_outages(session, rule.id)
        providers = [
            ProviderHealth(s.provider_id, s.slug, _status(s.status), s.changed_at, s.error)
            for s in states
        ]
        return findings.provider_health(rule, providers, outages)

    def _traffic(self, rule: Rule) -> findings.Episodes:
        now = self._clock()
        window = timedelta(minutes=rule.window_minutes or 15)
        # The window's slot: replicas evaluating within the same slot name an episode alike.
        slot = datetime.fromtimestamp(
            now.timestamp() // window.total_seconds() * window.total_seconds(), UTC
        )
        with self._sessions() as session:
            rows = alert_facts.traffic(
                session, by=rule.scope or AlertScope.PROVIDER, since=now - window, until=now
            )
            open_alerts = alert_facts.open_alerts(session, rule.id)
        traffic = [
            findings.Traffic(r.subject, r.label, r.requests, r.errors, r.p95_ms) for r in rows
        ]
        judge = findings.error_rate if rule.kind is AlertKind.ERROR_RATE else findings.latency_p95
        return judge(rule, traffic, open_alerts, bucket=f"{slot:%Y-%m-%dT%H:%M}")

    def _deprecated_traffic(self, rule: Rule) -> list[NewAlert]:
        now = self._clock()
        since = now - timedelta(minutes=rule.window_minutes or 60)
        with self._sessions() as session:
            rows = alert_facts.deprecated_model_use(session, since=since)
        models = [_model_use(row) for row in rows]
        return findings.deprecated_traffic(rule, models, day=now)

    def _deprecation_soon(self, rule: Rule) -> list[NewAlert]:
        now = self._clock()
        until = now + timedelta(days=float(rule.threshold or 30))
        with self._sessions() as session:
            rows = alert_facts.models_deprecated_by(session, until=until)
        return findings.deprecation_soon(rule, [_model_use(row) for row in rows], now=now)

    _READERS: Mapping[AlertKind, Callable[[Evaluator, Rule], list[NewAlert]]] = {
        AlertKind.SPEND_ANOMALY: _anomaly,
        AlertKind.PROVIDER_HEALTH: _provider_health,
        AlertKind.DEPRECATED_TRAFFIC: _deprecated_traffic,
        AlertKind.DEPRECATION_SOON: _deprecation_soon,
    }

    def _resolve(self, alert_ids: list[int]) -> None:
        with self._sessions() as session:
            resolve_alerts(session, alert_ids, now=self._clock(), note="back under the threshold")

    def _raise(self, found: list[NewAlert]) -> int:
        now = self._clock()
        raised = 0
        with self._sessions() as session:
            for alert in found:
                raised += raise_alert(session, alert, now=now) is not None
        return raised


@contextmanager
def _logged(kind: AlertKind) -> Iterator[None]:
    try:
        yield
    except Exception as error:
        log_event(
            log, logging.WARNING, "alert_rule_failed", kind=str(kind), error=type(error).__name__
        )


def _model_use(row: alert_facts.ModelRow) -> findings.ModelUse:
    return findings.ModelUse(
        row.model_pk, row.model_id, row.requests, row.deprecation_date, row.replacement
    )


def _status(value: str) -> HealthStatus:
    try:
        return HealthStatus(value)
    except ValueError:
        return HealthStatus.UNKNOWN
