"""A real gateway process for end-to-end tests: `switchboard serve` on a free loopback port,
talked to over real sockets, stopped gracefully or killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

# Environment variables a gateway under test must not inherit from whoever runs the tests.
_SCRUBBED_SUFFIXES = ("_API_KEY",)
_SCRUBBED = {"DATABASE_URL", "ADMIN_TOKEN", "ENCRYPTION_KEY", "LITELLM_PROXY_URL"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GatewayProcess:
    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    @property
    def openai_base_url(self) -> str:
        return f"{self.base_url}/v1"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited at start:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"the gateway did not come up in {timeout_s} s:\n{self.log()}")

    def stop(self, timeout_s: float = 20.0) -> int:
        """SIGTERM, as a process manager would: uvicorn shuts down gracefully."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()


def gateway_environment(
    database_url: str, workdir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _SCRUBBED and not name.endswith(_SCRUBBED_SUFFIXES)
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "SPOOL_DIR": str(workdir / "spool"),
            "CATALOG_POLL_INTERVAL_S": "0.2",
            "USAGE_FLUSH_INTERVAL_S": "0.1",
            "KEY_CACHE_TTL_S": "0.5",
        }
    )
    env.update(extra or {})
    return env


@contextmanager
def running_gateway(
    database_url: str,
    workdir: Path,
    env: Mapping[str, str] | None = None,
    *,
    port: int | None = None,
    workers: int = 1,
    ready_timeout_s: float = 60.0,
) -> Iterator[GatewayProcess]:
    """A gateway on `database_url` (migrated by `serve` itself), stopped on exit. With
    `workers` over 1, uvicorn's worker processes behind one port."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = workdir / f"gateway-{port}.log"
    command = [sys.executable, "-m", "switchboard", "serve", "--port", str(port)]
    if workers > 1:
        command += ["--workers", str(workers)]
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=gateway_environment(database_url, workdir, env),
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    gateway = GatewayProcess(process, port, log_path)
    try:
        gateway.wait_ready(ready_timeout_s)
        yield gateway
    finally:
        gateway.stop()
