"""Redis for the tests: the shared server (`TEST_REDIS_URL`, default 127.0.0.1:6379) under a key
prefix of the test's own, deleted afterwards; and a private `redis-server` process on a free
port, for tests that stop and restart Redis without touching anyone else's."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def unique_prefix(name: str) -> str:
    return f"test:{name}:{uuid.uuid4().hex[:12]}:"


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@contextmanager
def redis_prefix(name: str, url: str = REDIS_URL) -> Iterator[str]:
    """A fresh key prefix on the shared Redis; its keys are deleted on exit."""
    prefix = unique_prefix(name)
    try:
        yield prefix
    finally:
        delete_prefix(url, prefix)


class PrivateRedis:
    """A `redis-server` of the test's own (nothing on disk), which it may stop and start."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None, "redis-server is not installed"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                binary,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--dir", str(self.workdir)),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                client = redis.Redis.from_url(self.url, socket_timeout=0.5)
                try:
                    if client.ping():
                        return
                finally:
                    client.close()
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None


@contextmanager
def private_redis(workdir: Path, port: int) -> Iterator[PrivateRedis]:
    server = PrivateRedis(workdir, port)
    server.start()
    try:
        yield server
    finally:
        server.stop()
