"""Budget thresholds checked as soon as a request's cost crosses them, on every replica.

The gateway tells the watch of each settled request with a cost against a budget
(`Gateway.watch_settled`), on its event loop after the response: `notice` only schedules a
check and returns (or not even that, while the rules last read hold no budget threshold).
One check per user runs at a time; what is settled meanwhile is checked again when it ends.
A check reads the budgets' spend from the limits' counters once the settlement has reached
them, and raises the thresholds reached (each once, across replicas).
"""

from __future__ import annotations

import asyncio
import logging

from switchboard.alerts import findings
from switchboard.alerts.evaluation import Evaluator, standing_of
from switchboard.alerts.findings import Rule
from switchboard.gateway.limits_gate import SettledBudgets
from switchboard.gateway.service import Gateway
from switchboard.logs import log_event
from switchboard.vocabulary import AlertKind

log = logging.getLogger(__name__)


class BudgetWatch:
    def __init__(self, gateway: Gateway, evaluator: Evaluator) -> None:
        self._gateway = gateway
        self._evaluator = evaluator
        self._again: dict[str, SettledBudgets | None] = {}
        """Users being checked → what was settled for them since (None: nothing)."""
        self._tasks: set[asyncio.Task[None]] = set()

    def notice(self, settled: SettledBudgets) -> None:
        rules = self._evaluator.fresh_rules()
        if rules is not None and not any(_is_budget_threshold(rule) for rule in rules):
            return  # nothing to check; the rules are read again once they are stale
        user_id = settled.user_id
        if user_id in self._again:
            self._again[user_id] = settled
            return
        self._again[user_id] = None
        task = asyncio.get_running_loop().create_task(self._check(settled))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _check(self, settled: SettledBudgets | None) -> None:
        user_id = settled.user_id if settled else ""
        try:
            while settled is not None:
                await self._check_once(settled)
                settled = self._again.get(user_id)
                self._again[user_id] = None
        except Exception as error:  # Redis or the database away: the interval round catches up
            log_event(log, logging.WARNING, "alert_budget_check_failed", error=type(error).__name__)
        finally:
            self._again.pop(user_id, None)

    async def _check_once(self, settled: SettledBudgets) -> None:
        rules = [rule for rule in await self._evaluator.rules() if _is_budget_threshold(rule)]
        if not rules:
            return
        states = await self._gateway.settled_standings(settled)
        found = [
            finding
            for state in states
            for rule in rules
            for finding in findings.budget_thresholds(rule, standing_of(state))
        ]
        await self._evaluator.raise_all(found)


def _is_budget_threshold(rule: Rule) -> bool:
    return rule.kind is AlertKind.BUDGET_THRESHOLD
