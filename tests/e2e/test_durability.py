"""No usage record is ever lost: not when the gateway is killed with SIGKILL under load, not on
a graceful stop, not while the database is unreachable. Every request a client saw answered
has exactly one row; a request cut off by the kill has at most one."""

from __future__ import annotations

import signal
import threading
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url, select
from sqlalchemy.orm import Session, sessionmaker

from switchboard.models import LLMProvider, LLMUsageLog
from switchboard.services.seeding import seed_catalog
from switchboard.services.users import create_user, issue_virtual_key
from switchboard.usage.spool import SUFFIX
from switchboard.vocabulary import Tier
from tests.e2e.harness import GatewayProcess, running_gateway
from tests.e2e.tcp_proxy import TcpProxy

MOCK_LATENCY_MS = 20
"""Long enough that requests are in flight whenever the gateway is killed."""

LOAD_THREADS = 8
MAX_REQUESTS_PER_THREAD = 1500
LOAD_DEADLINE_S = 20.0
"""Hard bounds: a load thread stops after this many requests or this long, whatever happens."""


@pytest.fixture(scope="module")
def demo_catalog(e2e_sessions: sessionmaker[Session]) -> None:
    with e2e_sessions() as session:
        seed_catalog(session, demo=True)
        mock = session.scalars(select(LLMProvider).where(LLMProvider.provider_slug == "mock")).one()
        mock.config = {**(mock.config or {}), "latency_ms": MOCK_LATENCY_MS}
        session.commit()


@dataclass(frozen=True)
class Site:
    """What a durability test kills and restarts gateways on: the module's database, a user of
    the test's own (rows are counted per user) and their key, and the test's folder, whose
    spool every gateway of the test shares."""

    database_url: str
    sessions: sessionmaker[Session]
    encryption_key: str
    user_id: str
    key: str
    workdir: Path

    def gateway(
        self, database_url: str | None = None, **env: str
    ) -> AbstractContextManager[GatewayProcess]:
        return running_gateway(
            database_url or self.database_url,
            self.workdir,
            {"ENCRYPTION_KEY": self.encryption_key, **env},
        )

    def rows(self) -> list[str]:
        return rows_of(self.sessions, self.user_id)

    def wait_for_rows(self, expected: set[str]) -> list[str]:
        return wait_for_rows(self.sessions, self.user_id, expected)

    def spool_segments(self) -> int:
        return len(segments(self.workdir / "spool"))


@pytest.fixture
def site(
    demo_catalog: None,
    e2e_database_url: str,
    e2e_sessions: sessionmaker[Session],
    encryption_key: str,
    tmp_path: Path,
) -> Site:
    user_id = f"durability-{uuid.uuid4().hex[:12]}"
    with e2e_sessions() as session:
        create_user(session, user_id=user_id, tier=Tier.PROFESSIONAL)
        key = issue_virtual_key(session, user_id=user_id).key
    return Site(e2e_database_url, e2e_sessions, encryption_key, user_id, key, tmp_path)


# Load -------------------------------------------------------------------------------------


@dataclass
class Outcome:
    answered: list[str] = field(default_factory=list)
    """`x-switchboard-request-id` of every request answered 200 (a stream: to its [DONE])."""
    in_flight: int = 0
    """Requests sent whose answer never came: the server went away while they were in flight."""
    refused: int = 0
    """Requests that could not connect: they never reached a gateway."""
    failed: list[str] = field(default_factory=list)
    """Any other answer: never expected."""


class Load:
    """Clients firing chat completions from several threads until stopped (or their bounds),
    one thread in four streaming."""

    def __init__(self, base_url: str, key: str, *, threads: int = LOAD_THREADS) -> None:
        self._base_url = base_url
        self._key = key
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self.outcome = Outcome()
        self._threads = [
            threading.Thread(target=self._run, args=(index % 4 == 3,), daemon=True)
            for index in range(threads)
        ]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def halt(self) -> None:
        """Start no more requests (those in flight go on)."""
        self._stop.set()

    def stop(self) -> Outcome:
        """Halt, and wait for the requests in flight to end."""
        self._stop.set()
        for thread in self._threads:
            thread.join(LOAD_DEADLINE_S)
        assert not any(thread.is_alive() for thread in self._threads), "a load thread hangs"
        return self.outcome

    def answered(self) -> int:
        with self._lock:
            return len(self.outcome.answered)

    def wait_for_answers(self, count: int, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self.answered() < count:
            assert time.monotonic() < deadline, f"only {self.answered()} answers: {self.outcome}"
            time.sleep(0.01)

    def _run(self, streaming: bool) -> None:
        deadline = time.monotonic() + LOAD_DEADLINE_S
        headers = {"authorization": f"Bearer {self._key}"}
        with httpx.Client(base_url=self._base_url, headers=headers, timeout=10) as client:
            for number in range(MAX_REQUESTS_PER_THREAD):
                if self._stop.is_set() or time.monotonic() > deadline:
                    return
                body = {
                    "model": "eco",
                    "messages": [{"role": "user", "content": f"question {number}"}],
                    "stream": streaming,
                }
                try:
                    result = _send(client, body)
                except httpx.ConnectError:
                    self._count(refused=True)
                    time.sleep(0.01)  # nobody listens: no need to spin
                except httpx.TransportError:
                    self._count(in_flight=True)
                except Exception as error:  # anything else is a finding, not a dead thread
                    self._count(result=f"{error.__class__.__name__}: {error}")
                else:
                    self._count(result=result)

    def _count(
        self, *, result: str | None = None, refused: bool = False, in_flight: bool = False
    ) -> None:
        with self._lock:
            if refused:
                self.outcome.refused += 1
            elif in_flight:
                self.outcome.in_flight += 1
            elif result is not None and result.startswith("req_"):
                self.outcome.answered.append(result)
            else:
                self.outcome.failed.append(str(result))


def _send(client: httpx.Client, body: dict[str, object]) -> str:
    """The request id of a 200 answer received whole; else a description of what came."""
    with client.stream("POST", "/v1/chat/completions", json=body) as response:
        if response.status_code != 200:
            return f"{response.status_code}: {response.read()[:300]!r}"
        request_id = response.headers["x-switchboard-request-id"]
        if not body["stream"]:
            response.read()
            return str(request_id)
        for line in response.iter_lines():
            if line == "data: [DONE]":
                return str(request_id)
        return f"the stream of {request_id} ended cleanly without [DONE]"


# Reading the bill -------------------------------------------------------------------------


def rows_of(sessions: sessionmaker[Session], user_id: str) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(select(LLMUsageLog.request_id).where(LLMUsageLog.user_id == user_id))
        )


def wait_for_rows(
    sessions: sessionmaker[Session], user_id: str, expected: set[str], timeout_s: float = 15.0
) -> list[str]:
    """The user's rows, once every request id of `expected` has one."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = rows_of(sessions, user_id)
        if expected <= set(rows):
            return rows
        if time.monotonic() > deadline:
            missing = sorted(expected - set(rows))
            raise AssertionError(f"{len(missing)} answered requests have no row: {missing[:5]}")
        time.sleep(0.05)


def segments(spool_dir: Path) -> list[Path]:
    return sorted(spool_dir.glob(f"*{SUFFIX}"))


def report(name: str, **figures: object) -> None:
    print(f"\n{name}: " + ", ".join(f"{key}={value}" for key, value in figures.items()))


# SIGKILL and SIGTERM under load -----------------------------------------------------------


def test_sigkill_under_load_loses_no_answered_request(site: Site) -> None:
    """Killed twice, restarted each time on the same database and spool: first with the
    writer idle (nothing stored before the kill: every row comes from replaying the spool),
    then with it busy (the kill may fall between a commit and the segment's deletion)."""
    with site.gateway(USAGE_FLUSH_INTERVAL_S="60") as gateway:  # the writer idle
        first = _load_and_kill(gateway.base_url, site.key, gateway.kill)
    assert site.rows() == []
    first_left = site.spool_segments()

    with site.gateway(USAGE_FLUSH_INTERVAL_S="0.05") as gateway:  # the writer busy
        rows = site.wait_for_rows(set(first.answered))
        _assert_billed_once(rows, first)
        report_kill("SIGKILL, writer idle", first, rows, first_left)
        second = _load_and_kill(gateway.base_url, site.key, gateway.kill)
    before_restart = site.rows()
    second_left = site.spool_segments()

    with site.gateway() as gateway:
        rows = site.wait_for_rows(set(first.answered) | set(second.answered))
        ready = httpx.get(f"{gateway.base_url}/health/ready").json()
    _assert_billed_once(rows, first, second)
    assert ready["usage_spool_segments"] == 0
    report_kill(
        "SIGKILL, writer busy",
        second,
        rows,
        second_left,
        rows_stored_before_the_restart=len(before_restart) - len(first.answered),
    )


def _load_and_kill(base_url: str, key: str, kill: Callable[[], None]) -> Outcome:
    with Load(base_url, key) as load:
        load.wait_for_answers(200)
        time.sleep(0.5)
        load.halt()  # so that every request begun before the kill is in flight at it
        kill()
        outcome = load.stop()
    assert outcome.failed == []
    assert len(set(outcome.answered)) == len(outcome.answered) >= 200
    return outcome


def _assert_billed_once(rows: list[str], *runs: Outcome) -> None:
    """Every answered request has its row; a request cut off by a kill may have one."""
    assert len(rows) == len(set(rows)), "a request has two rows"
    answered = {request_id for run in runs for request_id in run.answered}
    assert answered <= set(rows)
    extra = set(rows) - answered
    assert len(extra) <= sum(run.in_flight for run in runs), "rows for requests never sent"


def report_kill(name: str, run: Outcome, rows: list[str], segments_left: int, **more: int) -> None:
    report(
        name,
        answered=len(run.answered),
        in_flight_at_kill=run.in_flight,
        segments_left_by_the_kill=segments_left,
        **more,
        rows_so_far=len(rows),
    )


def test_sigterm_under_load_stores_every_answered_request_and_empties_the_spool(
    site: Site,
) -> None:
    """Among the answers, a refused one: an 80-character `x-task-type` is a 400 at the door.
    A failed request is billed nothing but still has its record, like every other."""
    with site.gateway() as gateway:
        odd = httpx.post(
            f"{gateway.base_url}/v1/chat/completions",
            headers={"authorization": f"Bearer {site.key}", "x-task-type": "t" * 80},
            json={"model": "eco", "messages": [{"role": "user", "content": "hello"}]},
        )
        assert odd.status_code == 400
        time.sleep(0.3)  # its own segment, before the others
        with Load(gateway.base_url, site.key) as load:
            load.wait_for_answers(200)
            time.sleep(0.3)
            exit_code = gateway.stop()  # returns once the process has exited
            outcome = load.stop()

    assert exit_code in (0, -signal.SIGTERM), gateway.log()  # uvicorn re-raises the signal
    assert outcome.failed == []
    rows = site.rows()  # no waiting: the stop stored them
    # A request on a keep-alive connection the stopping server closes at that very moment
    # is cut off unread (in_flight); one it read, it answers. So: rows are the answers.
    assert sorted(rows) == sorted([odd.headers["x-switchboard-request-id"], *outcome.answered])
    assert list((site.workdir / "spool").iterdir()) == []
    report(
        "SIGTERM",
        answered=len(outcome.answered) + 1,
        cut_off_unread=outcome.in_flight,
        refused_after_stop=outcome.refused,
        rows=len(rows),
    )


# The database goes away -------------------------------------------------------------------


@pytest.fixture
def postgres_only(e2e_database_url: str) -> None:
    if not e2e_database_url.startswith("postgresql"):
        pytest.skip("a TCP proxy in front of the database: PostgreSQL only")


def test_database_outage_under_load_serves_from_cache_and_loses_nothing(
    postgres_only: None, site: Site
) -> None:
    with site.sessions() as session:
        create_user(session, user_id=f"{site.user_id}-new", tier=Tier.PROFESSIONAL)
        unseen_key = issue_virtual_key(session, user_id=f"{site.user_id}-new").key
    url = make_url(site.database_url)
    with TcpProxy(url.port or 5432, target_host=url.host or "127.0.0.1") as proxy:
        proxied = url.set(host=proxy.host, port=proxy.port).render_as_string(hide_password=False)
        assert "search_path" in proxied
        with site.gateway(proxied) as gateway:
            with Load(gateway.base_url, site.key, threads=4) as load:
                load.wait_for_answers(50)
                proxy.cut()
                answered_at_cut = load.answered()
                outage = _outage_checks(gateway.base_url, unseen_key, seconds=2.5)
                rows_during_outage = set(site.rows())
                answered_in_outage = load.answered() - answered_at_cut
                spool_in_outage = site.spool_segments()
                proxy.restore()
                load.wait_for_answers(load.answered() + 50)
                outcome = load.stop()
            answered = set(outcome.answered)
            rows = site.wait_for_rows(answered)
            ready_again = _wait_ready(gateway.base_url)

    assert outcome.failed == []
    assert outcome.in_flight == 0 and outcome.refused == 0
    assert answered_in_outage >= 20, "the gateway kept serving while the database was away"
    assert outage.ready == 503 and outage.ready_body["status"] == "degraded"
    assert outage.ready_body["database"] == "unreachable"
    assert outage.keys == {
        "seen by nobody": (503, "key_store_unavailable"),  # not 401: it may well be valid
        "never issued": (503, "key_store_unavailable"),
    }
    assert rows_during_outage <= answered
    assert sorted(rows) == sorted(answered), "every answered request has exactly one row"
    assert ready_again["status"] == "ready"
    report(
        "database outage",
        answered=len(answered),
        answered_during_outage=answered_in_outage,
        spool_segments_during_outage=spool_in_outage,
        rows_during_outage=len(rows_during_outage),
        rows=len(rows),
        proxy_connections=proxy.connections_made,
    )


@dataclass
class OutageChecks:
    ready: int
    ready_body: dict[str, object]
    keys: dict[str, tuple[int, str]]
    """What a key the gateway has not cached gets: (status, error code)."""


def _outage_checks(base_url: str, unseen_key: str, *, seconds: float) -> OutageChecks:
    """While the database is away: readiness, and keys the gateway has never seen."""
    started = time.monotonic()
    with httpx.Client(base_url=base_url, timeout=10) as client:
        ready = client.get("/health/ready")
        checks = OutageChecks(ready=ready.status_code, ready_body=ready.json(), keys={})
        for name, token in (("seen by nobody", unseen_key), ("never issued", "sk-sb-nope")):
            answer = client.post(
                "/v1/chat/completions",
                headers={"authorization": f"Bearer {token}"},
                json={"model": "eco", "messages": [{"role": "user", "content": "hello"}]},
            )
            checks.keys[name] = (answer.status_code, answer.json()["error"].get("code"))
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    return checks


def _wait_ready(base_url: str, timeout_s: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while True:
        answer = httpx.get(f"{base_url}/health/ready", timeout=5)
        if answer.status_code == 200 or time.monotonic() > deadline:
            body: dict[str, object] = answer.json()
            return body
        time.sleep(0.05)
