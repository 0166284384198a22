"""Processes under benchmark: pinning to a core, waiting for readiness, CPU and memory from
/proc, and stopping them. Linux only (the figures come from /proc)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Sequence

PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024 if hasattr(os, "sysconf") else 4
SERVER_CPU, CLIENT_CPU = 1, 0
"""The server under test gets core 1; the fake upstream and the load generator share core 0."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def can_pin() -> bool:
    path = os.environ.get("PATH", "").split(os.pathsep)
    taskset = any(os.access(os.path.join(folder, "taskset"), os.X_OK) for folder in path)
    return taskset and (os.cpu_count() or 1) >= 2


def pinned(cpu: int | None, command: Sequence[str]) -> list[str]:
    """`command` run on one core (`taskset -c`, which execs: the pid stays the command's)."""
    if cpu is None or not can_pin():
        return list(command)
    return ["taskset", "-c", str(cpu), *command]


def http_status(port: int, path: str, timeout_s: float = 1.0) -> int | None:
    """The status of `GET path` on 127.0.0.1:port, or None when nothing answers."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def wait_ready(
    process: subprocess.Popen[bytes], port: int, path: str, started: float, timeout_s: float
) -> float:
    """Seconds from `started` (a perf_counter) until `GET path` answers 200."""
    deadline = started + timeout_s
    while time.perf_counter() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited at start (exit {process.returncode})")
        if http_status(port, path, timeout_s=0.5) == 200:
            return time.perf_counter() - started
        time.sleep(0.005)
    raise RuntimeError(f"the server did not answer {path} in {timeout_s:.0f} s")


def wait_listening(process: subprocess.Popen[bytes], port: int, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the process exited at start (exit {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.01)
    raise RuntimeError(f"nothing listens on port {port} after {timeout_s:.0f} s")


def tree(pid: int) -> list[int]:
    """`pid` and its descendants (a server may fork workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                parent = int(stat.read().rpartition(b")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(children.get(current, ()))
    return found


def rss_mb(pid: int) -> float:
    """Resident memory of the process and its descendants, in MiB."""
    pages = 0
    for member in tree(pid):
        try:
            with open(f"/proc/{member}/statm", "rb") as statm:
                pages += int(statm.read().split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return round(pages * PAGE_KB / 1024, 1)


def loadavg() -> float:
    """The machine's one-minute load average: above ~1, something else competes for cores."""
    with open("/proc/loadavg") as figures:
        return float(figures.read().split()[0])


def stop(process: subprocess.Popen[bytes], timeout_s: float = 20) -> int:
    """SIGTERM (a graceful shutdown), SIGKILL if it does not end in time."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()
