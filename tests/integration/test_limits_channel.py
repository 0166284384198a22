"""The limits' one pipelined connection to Redis (`ScriptChannel`), on real `redis-server`
processes of the test's own: AUTH and SELECT from the URL, TLS (`rediss://`), many calls
over one connection under uvloop (as the gateway runs), and scripts reloaded after Redis
forgot them."""

from __future__ import annotations

import asyncio
import datetime as dt
import ipaddress
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from switchboard.limits import (
    FailoverLimiter,
    LimiterUnavailableError,
    LimitsUnavailableError,
    RateLimit,
    RedisLimiter,
    Scope,
    WhenDown,
    connect,
)
from tests.e2e.harness import free_port
from tests.integration.limit_demands import demand

RATE = (RateLimit(Scope.USER, "alice", requests_per_minute=50),)
PASSWORD = "s3cret/with:odd@chars"
SERVER_OPTIONS = ("--bind", "127.0.0.1", "--save", "", "--appendonly", "no")


@contextmanager
def redis_server(workdir: Path, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """A `redis-server` with `options`, nothing on disk; killed on exit."""
    binary = shutil.which("redis-server")
    assert binary is not None, "redis-server is not installed"
    workdir.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [binary, *SERVER_OPTIONS, "--dir", str(workdir), *options],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.kill()
        process.wait()


def wait_until_up(client: redis.Redis) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with redis_server(tmp_path / "redis", "--port", str(port), "--requirepass", PASSWORD):
        wait_until_up(redis.Redis(port=port, password=PASSWORD))
        yield port


def keys_in(port: int, db: int) -> list[bytes]:
    client = redis.Redis(port=port, password=PASSWORD, db=db)
    try:
        return sorted(client.keys("t:*"))
    finally:
        client.close()


def quoted(text: str) -> str:
    return quote(text, safe="")


@pytest.mark.parametrize("user", ["", "default"])
def test_auth_and_select_come_from_the_url(password_redis: int, user: str) -> None:
    url = f"redis://{user}:{quoted(PASSWORD)}@127.0.0.1:{password_redis}/3"

    async def main() -> None:
        limiter = RedisLimiter(connect(url, timeout_s=2), prefix="t:")
        try:
            assert (await limiter.admit(demand("a1", rates=RATE))).admitted
            assert await limiter.ping()
        finally:
            await limiter.close()

    asyncio.run(main())
    assert keys_in(password_redis, 3) == [b"t:{u:alice}:rq:user:alice"]
    assert keys_in(password_redis, 0) == []


def test_a_wrong_password_is_redis_unavailable_not_a_hang(password_redis: int) -> None:
    url = f"redis://:wrong@127.0.0.1:{password_redis}/0"

    async def main() -> None:
        limiter = FailoverLimiter(
            RedisLimiter(connect(url, timeout_s=2), prefix="t:"), when_down=WhenDown.CLOSED
        )
        try:
            started = time.monotonic()
            with pytest.raises(LimitsUnavailableError):
                await limiter.admit(demand("w1", rates=RATE))
            assert limiter.degraded and time.monotonic() - started < 1.0
        finally:
            await limiter.close()

    asyncio.run(main())
    assert keys_in(password_redis, 0) == []


def test_many_concurrent_admissions_share_one_connection_and_count_exactly(
    password_redis: int,
) -> None:
    """Under uvloop, as the gateway runs: 200 admissions at once, 50 a minute admitted."""
    url = f"redis://:{quoted(PASSWORD)}@127.0.0.1:{password_redis}/1"

    async def main() -> list[bool]:
        limiter = RedisLimiter(connect(url, timeout_s=2), prefix="t:")
        try:
            decisions = await asyncio.gather(
                *(limiter.admit(demand(f"c{i}", rates=RATE)) for i in range(200))
            )
            clients = redis.Redis(port=password_redis, password=PASSWORD).info("clients")
            assert clients["connected_clients"] == 2  # the limiter's one, and this question
            return [decision.admitted for decision in decisions]
        finally:
            await limiter.close()

    admitted = uvloop.run(main())
    assert admitted.count(True) == 50


def test_scripts_are_loaded_again_when_redis_forgot_them(password_redis: int) -> None:
    url = f"redis://:{quoted(PASSWORD)}@127.0.0.1:{password_redis}/2"
    checker = redis.Redis(port=password_redis, password=PASSWORD)

    async def main() -> None:
        limiter = RedisLimiter(connect(url, timeout_s=2), prefix="t:")
        try:
            assert (await limiter.admit(demand("f1", rates=RATE))).admitted
            checker.script_flush()
            decisions = await asyncio.gather(
                *(limiter.admit(demand(f"f{i}", rates=RATE)) for i in range(2, 12))
            )
            assert all(decision.admitted for decision in decisions)
        finally:
            await limiter.close()

    asyncio.run(main())
    counted = redis.Redis(port=password_redis, password=PASSWORD, db=2)
    assert counted.zcard("t:{u:alice}:rq:user:alice") == 11


def test_a_stopped_redis_fails_the_calls_in_flight_within_the_timeout(tmp_path: Path) -> None:
    port = free_port()
    with redis_server(tmp_path / "redis", "--port", str(port)) as process:
        wait_until_up(redis.Redis(port=port))

        async def main() -> None:
            limiter = RedisLimiter(
                connect(f"redis://127.0.0.1:{port}/0", timeout_s=0.3), prefix="t:"
            )
            try:
                assert (await limiter.admit(demand("s1", rates=RATE))).admitted
                process.send_signal(19)  # SIGSTOP: connected, and never answering
                started = time.monotonic()
                outcomes = await asyncio.gather(
                    *(limiter.admit(demand(f"s{i}", rates=RATE)) for i in range(2, 6)),
                    return_exceptions=True,
                )
                assert all(isinstance(o, LimiterUnavailableError) for o in outcomes)
                assert time.monotonic() - started < 1.0
                process.send_signal(18)  # SIGCONT: a new connection, and answers again
                assert (await limiter.admit(demand("s9", rates=RATE))).admitted
            finally:
                await limiter.close()

        asyncio.run(main())


def write_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate it signed for 127.0.0.1: (ca, certificate, key)."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "limits test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = (folder / "ca.pem", folder / "redis.pem", folder / "redis.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def test_rediss_speaks_tls_and_checks_the_servers_certificate(tmp_path: Path) -> None:
    ca, certificate, key = write_certificates(tmp_path / "tls")
    port = free_port()
    options = ["--port", "0", "--tls-port", str(port), "--tls-auth-clients", "no"]
    options += ["--tls-cert-file", str(certificate), "--tls-key-file", str(key)]
    options += ["--tls-ca-cert-file", str(ca), "--requirepass", PASSWORD]
    with redis_server(tmp_path / "redis", *options):
        checker = redis.Redis(
            host="127.0.0.1", port=port, password=PASSWORD, ssl=True, ssl_ca_certs=str(ca)
        )
        wait_until_up(checker)
        trusted = f"rediss://:{quoted(PASSWORD)}@127.0.0.1:{port}/0?ssl_ca_certs={ca}"
        untrusted = f"rediss://:{quoted(PASSWORD)}@127.0.0.1:{port}/0"

        async def main() -> None:
            limiter = RedisLimiter(connect(trusted, timeout_s=2), prefix="t:")
            stranger = RedisLimiter(connect(untrusted, timeout_s=2), prefix="t:")
            try:
                assert (await limiter.admit(demand("t1", rates=RATE))).admitted
                with pytest.raises(LimiterUnavailableError, match="SSL"):
                    await stranger.admit(demand("t2", rates=RATE))
            finally:
                await limiter.close()
                await stranger.close()

        uvloop.run(main())
        assert checker.zcard("t:{u:alice}:rq:user:alice") == 1


def test_a_unix_socket_and_its_database_come_from_the_url(tmp_path: Path) -> None:
    socket_path = tmp_path / "redis.sock"
    with redis_server(tmp_path / "redis", "--port", "0", "--unixsocket", str(socket_path)):
        checker = redis.Redis(unix_socket_path=str(socket_path), db=4)
        wait_until_up(checker)

        async def main() -> None:
            url = f"unix://{socket_path}?db=4"
            limiter = RedisLimiter(connect(url, timeout_s=2), prefix="t:")
            try:
                assert (await limiter.admit(demand("u1", rates=RATE))).admitted
            finally:
                await limiter.close()

        uvloop.run(main())
        assert checker.zcard("t:{u:alice}:rq:user:alice") == 1
