"""`RedisLimiter`: the counters in Redis, shared by every replica; each operation one script
(`redis_scripts`), so a request's checks and counts are one round trip and atomic.

Every key of a request starts with the configured prefix and its user's hash tag
(`{u:<user id>}`), so all of them live in one slot (a Redis Cluster can run the scripts too).
A connection error or timeout is `LimiterUnavailableError`: what to do then is the caller's
choice (`failover`); nothing here retries or waits longer than the socket timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any, TypeVar, cast

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from switchboard.limits import redis_scripts
from switchboard.limits.outcome import (
    BudgetStatus,
    Decision,
    LimiterUnavailableError,
    RateStatus,
    Refusal,
    Spend,
)
from switchboard.limits.rules import (
    BudgetAccount,
    Claim,
    Demand,
    LimitKind,
    Scope,
    Settlement,
)

T = TypeVar("T")
ACCOUNT_KEPT = timedelta(days=2)
"""How long after its period ends an account's keys stay (for `GET …/spend` of a period that
just ended); then Redis expires them."""


POOL_WAIT_FACTOR = 5


def connect(url: str, *, timeout_s: float, max_connections: int = 128) -> aioredis.Redis:
    """A client that never waits longer than `timeout_s` to connect or for an answer, and
    retries only a broken connection, once. It keeps at most `max_connections`: a request
    beyond them waits for one to be free (one script takes well under a millisecond) for
    up to `POOL_WAIT_FACTOR` × `timeout_s`, since under load that wait is the event loop's
    own queue, not Redis being away."""
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=timeout_s * POOL_WAIT_FACTOR,
        socket_timeout=timeout_s,
        socket_connect_timeout=timeout_s,
        # One immediate retry on a broken connection (a Redis that restarted has closed the
        # pooled ones: the retry opens a new one), none on a timeout.
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        health_check_interval=0,
    )
    return aioredis.Redis.from_pool(pool)


class RedisLimiter:
    def __init__(self, client: aioredis.Redis, *, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._admissions = _Batches(self._run, client.register_script(redis_scripts.ADMIT))
        self._adjust = client.register_script(redis_scripts.ADJUST)
        self._settle = client.register_script(redis_scripts.SETTLE)
        self._renew = client.register_script(redis_scripts.RENEW)
        self._seed = client.register_script(redis_scripts.SEED)
        self._spend = client.register_script(redis_scripts.SPEND)

    def _key(self, user_id: str, *parts: str) -> str:
        return f"{self.prefix}{{u:{user_id}}}:" + ":".join(parts)

    def _account_keys(self, user_id: str, account: BudgetAccount) -> list[str]:
        name = account.name
        return [self._key(user_id, kind, name) for kind in ("b", "br", "ba")]

    async def admit(self, demand: Demand) -> Decision:
        counters = _rate_counters(demand)
        reply = _decode(await self._admissions.call(*self._admit_call(demand, counters)))
        status, now = next(reply), next(reply)
        refusal, rates, budgets, rebuild = (_group(reply, size) for size in (1, 3, 2, 1))
        decision_rates = tuple(
            RateStatus(kind, scope, int(limit), int(remaining), int(reset))
            for (kind, scope, _, _), (limit, remaining, reset) in zip(counters, rates, strict=True)
        )
        statuses = _budget_statuses(demand.claims, budgets)
        if status == 2:
            pairs = [
                (int(j), int(since)) for j, since in zip(rebuild[::2], rebuild[1::2], strict=False)
            ]
            return Decision(
                rebuild=tuple((demand.claims[j - 1].account, since) for j, since in pairs),
                now_ms=int(now),
            )
        found = _refusal(demand, counters, refusal, int(now)) if status == 1 else None
        return Decision(found, decision_rates, statuses, now_ms=int(now))

    def _admit_call(
        self, demand: Demand, counters: list[tuple[LimitKind, Scope, str, int]]
    ) -> tuple[list[str], list[Any]]:
        keys: list[str] = []
        args: list[Any] = [demand.request_id, demand.hold_ms, demand.tokens, len(counters)]
        for kind, scope, owner, limit in counters:
            if kind is LimitKind.REQUESTS:
                keys.append(self._key(demand.user_id, "rq", scope, owner))
                args += ["r", limit]
            else:
                keys += [
                    self._key(demand.user_id, "tk", scope, owner),
                    self._key(demand.user_id, "ta", scope, owner),
                ]
                args += ["t", limit]
        if demand.concurrency_key is not None and demand.concurrency_limit is not None:
            keys.append(self._key(demand.user_id, "cc", demand.concurrency_key))
            args.append(demand.concurrency_limit)
        else:
            args.append(-1)
        args.append(len(demand.claims))
        for claim in demand.claims:
            keys += self._account_keys(demand.user_id, claim.account)
            args += [claim.budget.limit_units, claim.units, _ttl_ms(claim)]
        return keys, args

    async def adjust(self, demand: Demand, units: tuple[int, ...]) -> Decision:
        keys: list[str] = []
        args: list[Any] = [demand.request_id, demand.hold_ms, len(demand.claims)]
        for claim, new in zip(demand.claims, units, strict=True):
            keys += self._account_keys(demand.user_id, claim.account)
            args += [claim.budget.limit_units, new]
        reply = _decode(await self._run(self._adjust, keys, args))
        status, now = next(reply), next(reply)
        refusal, budgets = _group(reply, 1), _group(reply, 2)
        found = None
        if status == 1:
            index, remaining, _, needed = (int(value) for value in refusal)
            found = _budget_refusal(demand.claims[index - 1], remaining, needed, int(now))
        return Decision(found, (), _budget_statuses(demand.claims, budgets), now_ms=int(now))

    async def settle(self, demand: Demand, settlement: Settlement) -> None:
        await self.settle_all([(demand, settlement)])

    async def settle_all(self, items: Sequence[tuple[Demand, Settlement]]) -> None:
        """Several settlements in one script call, one round trip."""
        if items:
            calls = [self._settle_call(demand, settlement) for demand, settlement in items]
            await self._run(self._settle, *_batched(calls))

    def _settle_call(self, demand: Demand, settlement: Settlement) -> tuple[list[str], list[Any]]:
        keys = [
            self._key(demand.user_id, "ta", rate.scope, rate.owner)
            for rate in demand.rates
            if rate.tokens_per_minute is not None
        ]
        has_slots = demand.concurrency_key is not None and demand.concurrency_limit is not None
        if has_slots:
            keys.append(self._key(demand.user_id, "cc", str(demand.concurrency_key)))
        for claim in demand.claims:
            keys += self._account_keys(demand.user_id, claim.account)
        args: list[Any] = [
            demand.request_id,
            int(settlement.created_at.timestamp() * 1000),
            -1 if settlement.tokens is None else settlement.tokens,
            sum(1 for rate in demand.rates if rate.tokens_per_minute is not None),
            1 if has_slots else 0,
            len(demand.claims),
            *settlement.costs,
        ]
        return keys, args

    async def renew(self, demands: Sequence[Demand]) -> None:
        calls = []
        for demand in demands:
            keys = [
                self._account_keys(demand.user_id, claim.account)[1]
                for claim in demand.claims
                if claim.units > 0
            ]
            if demand.concurrency_key is not None and demand.concurrency_limit is not None:
                keys.append(self._key(demand.user_id, "cc", demand.concurrency_key))
            if keys:
                calls.append((keys, [demand.request_id, demand.hold_ms]))
        if calls:
            await self._run(self._renew, *_batched(calls))

    async def seed(
        self, user_id: str, account: BudgetAccount, since_ms: int, base_units: int
    ) -> None:
        await self._run(
            self._seed, [self._account_keys(user_id, account)[0]], [since_ms, base_units]
        )

    async def spend(self, user_id: str, account: BudgetAccount) -> Spend:
        since, base, spent, reserved = await self._run(
            self._spend, self._account_keys(user_id, account), []
        )
        return Spend(
            account,
            int(spent),
            int(reserved),
            None if int(base) < 0 else int(base),
            None if int(since) < 0 else int(since),
        )

    async def ping(self) -> bool:
        return bool(await self._call(lambda: self.client.ping()))

    async def close(self) -> None:
        await self._admissions.drain()
        await self.client.aclose()

    async def _run(self, script: Any, keys: Sequence[str], args: Sequence[Any]) -> Any:
        return await self._call(lambda: script(keys=keys, args=args))

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        try:
            return await call()
        except (RedisConnectionError, RedisTimeoutError, OSError) as error:
            raise LimiterUnavailableError(f"Redis: {type(error).__name__}") from error


Call = tuple[list[str], list[Any]]
"""One request's keys and arguments for a batching script (`redis_scripts._BATCH`)."""

BATCH_LIMIT = 256
"""The most requests one script call carries."""


def _batched(calls: Sequence[Call]) -> Call:
    """The keys and arguments of one call that carries all of `calls` (their arguments are
    numbers and the gateway's own request ids: never a comma)."""
    keys: list[str] = []
    args: list[Any] = [len(calls)]
    for call_keys, call_args in calls:
        keys += call_keys
        args += [len(call_keys), ",".join(map(str, call_args))]
    return keys, args


class _Batches:
    """Calls of one batching script made in the same turn of the event loop go to Redis
    together, as one call; each caller gets its own part of the reply. Batches do not wait
    for each other: under load a round trip carries many requests, and alone a request
    waits one turn of the loop."""

    def __init__(
        self, run: Callable[[Any, Sequence[str], Sequence[Any]], Awaitable[Any]], script: Any
    ) -> None:
        self._run = run
        self._script = script
        self._waiting: list[tuple[Call, asyncio.Future[bytes]]] = []
        self._sending: set[asyncio.Task[None]] = set()

    async def call(self, keys: list[str], args: list[Any]) -> bytes:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        if not self._waiting:
            loop.call_soon(self._send_waiting)
        self._waiting.append(((keys, args), future))
        return await future

    async def drain(self) -> None:
        await asyncio.gather(*self._sending, return_exceptions=True)

    def _send_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for start in range(0, len(waiting), BATCH_LIMIT):
            task = asyncio.get_running_loop().create_task(
                self._send(waiting[start : start + BATCH_LIMIT])
            )
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Call, asyncio.Future[bytes]]]) -> None:
        try:
            reply = await self._run(self._script, *_batched([call for call, _ in batch]))
        except Exception as error:
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        except BaseException:
            for _, future in batch:
                future.cancel()
            raise
        for (_, future), part in zip(batch, reply.split(b";"), strict=True):
            if not future.done():  # its request may have been cancelled meanwhile
                future.set_result(part)


def _decode(reply: bytes) -> Iterator[int]:
    """The integers of a script's encoded reply (`redis_scripts.encode`)."""
    return iter([int(value) for value in reply.split(b",")])


def _group(reply: Iterator[int], width: int) -> list[Any]:
    """The next group of the reply: its values, in tuples of `width` (or plain, for 1)."""
    values = [next(reply) for _ in range(next(reply))]
    if width == 1:
        return values
    return [tuple(values[i : i + width]) for i in range(0, len(values), width)]


def _rate_counters(demand: Demand) -> list[tuple[LimitKind, Scope, str, int]]:
    """Each rate counter of the demand, in the order the script sees them."""
    counters = []
    for rate in demand.rates:
        if rate.requests_per_minute is not None:
            counters.append((LimitKind.REQUESTS, rate.scope, rate.owner, rate.requests_per_minute))
        if rate.tokens_per_minute is not None:
            counters.append((LimitKind.TOKENS, rate.scope, rate.owner, rate.tokens_per_minute))
    return counters


def _ttl_ms(claim: Claim) -> int:
    end = claim.account.end + ACCOUNT_KEPT
    return int((end - claim.account.start).total_seconds() * 1000)


def _budget_statuses(claims: tuple[Claim, ...], budgets: list[Any]) -> tuple[BudgetStatus, ...]:
    return tuple(
        BudgetStatus(claim.account, claim.budget.limit_units, int(spent), int(reserved))
        for claim, (spent, reserved) in zip(claims, budgets, strict=False)
    )


def _refusal(
    demand: Demand,
    counters: list[tuple[LimitKind, Scope, str, int]],
    refusal: list[Any],
    now_ms: int,
) -> Refusal:
    index, remaining, retry, needed = (int(value) for value in refusal)
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
