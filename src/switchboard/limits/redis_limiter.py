"""`RedisLimiter`: the counters in Redis, shared by every replica; each operation one script
(`redis_scripts`), so a request's checks and counts are one round trip and atomic.

Every key of a request starts with the configured prefix and its user's hash tag
(`{u:<user id>}`). One call carries the operations of many users (`_Batches`), so the server
must be a single Redis (with replicas or Sentinel), not a Redis Cluster. Any Redis error (a
connection lost, a timeout, a refusal such as READONLY or OOM) is `LimiterUnavailableError`:
what to do then is the caller's choice (`failover`); nothing here retries or waits longer
than the socket timeout.
"""

from __future__ import annotations

import asyncio
import enum
from asyncio import Future
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from switchboard.limits import redis_scripts
from switchboard.limits.outcome import (
    BudgetStatus,
    Decision,
    LimiterUnavailableError,
    RateStatus,
    Refusal,
    Spend,
)
from switchboard.limits.redis_wire import Counter, Keys, Wires
from switchboard.limits.rules import (
    BudgetAccount,
    Claim,
    Demand,
    LimitKind,
    Scope,
    Settlement,
)
from switchboard.limits.script_channel import Script, ScriptChannel, is_error, is_noscript


def connect(url: str, *, timeout_s: float) -> ScriptChannel:
    """The limits' connection to Redis at `url` (opened on first use, and again when lost),
    that never waits longer than `timeout_s` to connect or for an answer."""
    return ScriptChannel(url, timeout_s=timeout_s)


class RedisLimiter:
    def __init__(self, channel: ScriptChannel, *, prefix: str) -> None:
        self.channel = channel
        self.prefix = prefix
        self._keys = Keys(prefix)
        self._wires = Wires(self._keys)
        self._requests = _Batches(channel, Script(redis_scripts.REQUESTS))
        self._adjust = Script(redis_scripts.ADJUST)
        self._seed = Script(redis_scripts.SEED)
        self._spend = Script(redis_scripts.SPEND)

    async def admit(self, demand: Demand) -> Decision:
        wire = self._wires.of(demand)
        [part] = await self._requests.call(
            Op.ADMIT, [(wire.admit_keys, wire.admit_args(demand))], urgent=True
        )
        status, now, (refusal, rates, budgets, rebuild) = _decode(part)
        if status == 2:
            return Decision(
                rebuild=tuple(
                    (demand.claims[rebuild[i] - 1].account, rebuild[i + 1])
                    for i in range(0, len(rebuild) - 1, 2)
                ),
                now_ms=now,
            )
        decision_rates = tuple(
            RateStatus(kind, scope, rates[i], rates[i + 1], rates[i + 2])
            for i, (kind, scope, _, _) in zip(range(0, len(rates), 3), wire.counters, strict=True)
        )
        statuses = _budget_statuses(demand.claims, budgets)
        found = _refusal(demand, wire.counters, refusal, now) if status == 1 else None
        return Decision(found, decision_rates, statuses, now_ms=now)

    async def adjust(self, demand: Demand, units: tuple[int, ...]) -> Decision:
        keys: list[str] = []
        args: list[Any] = [demand.request_id, demand.hold_ms, len(demand.claims)]
        for claim, new in zip(demand.claims, units, strict=True):
            keys += self._keys.account(demand.user_id, claim.account)
            args += [claim.budget.limit_units, new]
        status, now, (refusal, budgets) = _decode(await self._run(self._adjust, keys, args))
        found = None
        if status == 1:
            index, remaining, _, needed = refusal
            found = _budget_refusal(demand.claims[index - 1], remaining, needed, now)
        return Decision(found, (), _budget_statuses(demand.claims, budgets), now_ms=now)

    async def settle(self, demand: Demand, settlement: Settlement) -> None:
        await self.settle_all([(demand, settlement)])

    async def settle_all(
        self, items: Sequence[tuple[Demand, Settlement]], *, at_once: bool = False
    ) -> None:
        """Several settlements in one script call, with the next admissions (`_Batches`), or
        `at_once` (a replay after an outage, which no admission would carry)."""
        if items:
            calls = [self._settle_call(demand, settlement) for demand, settlement in items]
            await self._requests.call(Op.SETTLE, calls, urgent=at_once)

    def _settle_call(self, demand: Demand, settlement: Settlement) -> Call:
        wire = self._wires.of(demand)
        created_ms = int(settlement.created_at.timestamp() * 1000)
        args = wire.settle_args(demand.request_id, created_ms, settlement.tokens, settlement.costs)
        return wire.settle_keys, args

    async def renew(self, demands: Sequence[Demand]) -> None:
        calls = []
        for demand in demands:
            keys = self._wires.of(demand).renew_keys(demand)
            if keys:
                calls.append((keys, f"{demand.request_id},{demand.hold_ms}"))
        if calls:
            await self._requests.call(Op.RENEW, calls, urgent=False)

    async def seed(
        self, user_id: str, account: BudgetAccount, since_ms: int, base_units: int
    ) -> None:
        await self._run(
            self._seed, [self._keys.account(user_id, account)[0]], [since_ms, base_units]
        )

    async def spend(self, user_id: str, account: BudgetAccount) -> Spend:
        since, base, spent, reserved = await self._run(
            self._spend, self._keys.account(user_id, account), []
        )
        return Spend(
            account,
            int(spent),
            int(reserved),
            None if int(base) < 0 else int(base),
            None if int(since) < 0 else int(since),
        )

    async def ping(self) -> bool:
        return bool(await self.channel.command(b"PING"))

    async def close(self) -> None:
        await self._requests.drain()
        await self.channel.close()

    async def _run(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Any failure (away, a timeout, a refusal such as READONLY or OOM) is
        `LimiterUnavailableError`."""
        return await self.channel.call(script, keys, args)


Call = tuple[list[str], str]
"""One operation's keys and its arguments joined by commas (`redis_scripts.REQUESTS`)."""


class Op(enum.StrEnum):
    """What `redis_scripts.REQUESTS` does with one call."""

    ADMIT = "a"
    SETTLE = "s"
    RENEW = "r"


BATCH_LIMIT = 256
"""The most operations one script call carries."""
IN_FLIGHT = 1
"""Calls of `REQUESTS` on their way at once (`_Batches`)."""
DELAY_S = 0.02
"""How long settlements and renewals wait for an admission to ride with (alone, a request
that ends would cost a round trip of its own; under load they ride along at once)."""


class _Batches:
    """Operations on requests go to Redis together, as one call of `REQUESTS`; each caller
    gets its own part of the reply. An admission goes at the next turn of the event loop,
    with everything waiting by then; settlements and renewals wait up to `DELAY_S` for one.
    Settlements come first in a call: what they free, its admissions may use.

    At most `IN_FLIGHT` calls are on their way at once: what comes meanwhile waits for one
    to be answered and goes with the others that came (auto-pipelining). Under load a call
    then carries many operations — one write, one reply and one script run for all of
    them, where each of those costs the gateway and Redis about as much as the operations
    themselves — for a wait shorter than a round trip."""

    def __init__(self, channel: ScriptChannel, script: Script) -> None:
        self._channel = channel
        self._script = script
        self._waiting: list[_Group] = []
        self._soon = False
        self._later: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        self._idle: asyncio.Event | None = None

    async def call(self, op: Op, calls: list[Call], *, urgent: bool) -> list[bytes]:
        loop = asyncio.get_running_loop()
        group = _Group(op, calls, loop.create_future())
        self._waiting.append(group)
        if urgent and not self._soon:
            self._soon = True
            loop.call_soon(self._send_waiting)
        elif not self._soon and self._later is None:
            self._later = loop.call_later(DELAY_S, self._send_waiting)
        return await group.future

    async def drain(self) -> None:
        """Send what waits, and wait until every call is answered."""
        if self._waiting:
            self._send_waiting()
        while self._waiting or self._in_flight:
            self._idle = asyncio.Event()
            await self._idle.wait()

    def _send_waiting(self) -> None:
        if self._later is not None:
            self._later.cancel()
            self._later = None
        self._soon = False
        while self._waiting and self._in_flight < IN_FLIGHT:
            waiting, self._waiting = self._waiting, []
            waiting.sort(key=lambda group: group.op is not Op.SETTLE)
            batch: list[_Group] = []
            operations = 0
            for index, group in enumerate(waiting):
                batch.append(group)
                operations += len(group.calls)
                if operations >= BATCH_LIMIT:
                    self._waiting = waiting[index + 1 :] + self._waiting
                    break
            self._start(batch)

    def _finished(self) -> None:
        """A call was answered (or failed): what waits for it goes now."""
        self._in_flight -= 1
        if self._waiting:
            self._send_waiting()
        elif not self._in_flight and self._idle is not None:
            self._idle.set()

    def _start(self, batch: list[_Group]) -> None:
        self._in_flight += 1
        keys: list[str] = []
        args: list[Any] = [sum(len(group.calls) for group in batch)]
        for group in batch:  # arguments are numbers and the gateway's request ids: no commas
            op = group.op.value
            for call_keys, call_args in group.calls:
                keys += call_keys
                args += [op, len(call_keys), call_args]
        sent = self._channel.send(self._script, keys, args)
        if sent is None:  # not connected: the coroutine connects first
            self._start_task(batch, keys, args)
            return
        sent.add_done_callback(lambda done: self._sent(batch, keys, args, done))

    def _sent(
        self, batch: list[_Group], keys: list[str], args: list[Any], done: Future[Any]
    ) -> None:
        error = done.exception()
        if error is None and is_noscript(done.result()):  # loaded by the coroutine
            self._start_task(batch, keys, args)
            return
        if error is not None:
            _fail(batch, error)
        elif is_error(done.result()):
            _fail(batch, LimiterUnavailableError(f"Redis: {done.result()}"))
        else:
            _answer(batch, done.result())
        self._finished()

    def _start_task(self, batch: list[_Group], keys: list[str], args: list[Any]) -> None:
        task = asyncio.get_running_loop().create_task(self._send(batch, keys, args))
        self._sending.add(task)
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[_Group], keys: list[str], args: list[Any]) -> None:
        try:
            reply = await self._channel.call(self._script, keys, args)
        except Exception as error:
            _fail(batch, error)
        except BaseException:
            for group in batch:
                group.future.cancel()
            raise
        else:
            _answer(batch, reply)
        finally:
            self._finished()


def _fail(batch: list[_Group], error: BaseException) -> None:
    for group in batch:
        if not group.future.done():
            group.future.set_exception(error)


def _answer(batch: list[_Group], reply: bytes) -> None:
    parts = reply.split(b";")
    for group in batch:
        answered, parts = parts[: len(group.calls)], parts[len(group.calls) :]
        if not group.future.done():  # its request may have been cancelled meanwhile
            group.future.set_result(answered)


@dataclass(slots=True)
class _Group:
    """One caller's operations, answered together."""

    op: Op
    calls: list[Call]
    future: asyncio.Future[list[bytes]]


def _decode(reply: bytes) -> tuple[int, int, list[list[int]]]:
    """A script's encoded reply (`redis_scripts.encode`): its status, its time, and its
    groups of integers, each written as its length then its values."""
    values = list(map(int, reply.split(b",")))
    groups = []
    start, end = 2, len(values)
    while start < end:
        size = values[start]
        groups.append(values[start + 1 : start + 1 + size])
        start += 1 + size
    return values[0], values[1], groups


def _budget_statuses(claims: tuple[Claim, ...], budgets: list[int]) -> tuple[BudgetStatus, ...]:
    """Each claim's account as the reply has it (spent, reserved: two values each)."""
    return tuple(
        BudgetStatus(claim.account, claim.budget.limit_units, budgets[i], budgets[i + 1])
        for i, claim in zip(range(0, len(budgets) - 1, 2), claims, strict=False)
    )


def _refusal(
    demand: Demand,
    counters: tuple[Counter, ...],
    refusal: list[int],
    now_ms: int,
) -> Refusal:
    index, remaining, retry, needed = refusal
    if index <= len(counters):
        kind, scope, owner, limit = counters[index - 1]
        return Refusal(kind, scope, owner, limit, remaining, retry, needed)
    if index == len(counters) + 1:
        return Refusal(
            LimitKind.CONCURRENCY,
            Scope.KEY,
            cast(str, demand.concurrency_key),
            cast(int, demand.concurrency_limit),
            0,
            retry,
            needed,
        )
    return _budget_refusal(demand.claims[index - len(counters) - 2], remaining, needed, now_ms)


def _budget_refusal(claim: Claim, remaining: int, needed: int, now_ms: int) -> Refusal:
    retry = max(1, int(claim.account.end.timestamp() * 1000) - now_ms)
    budget = claim.budget
    return Refusal(
        LimitKind.BUDGET, budget.scope, budget.owner, budget.limit_units, remaining, retry, needed
    )
