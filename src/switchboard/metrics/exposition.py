"""The text a scrape of `/metrics` gets, in Prometheus's format.

In one process that is the process's own registry. Under `switchboard serve --workers N`
each worker keeps its values in files of its own, in the directory the serve command made
for this start (`multiprocess_dir`); a scrape, answered by whichever worker the connection
reached, reads every worker's files and adds them up. A worker that ended (or was killed)
is marked dead first, so its live gauges (requests in flight, cooldowns) stop counting while
its counters keep what it counted.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, values
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

CONTENT_TYPE = CONTENT_TYPE_LATEST

_PID = re.compile(r"_(\d+)\.db$")


def multiprocess_directory() -> Path | None:
    """Where this process's values go when it runs under the serve command's multiprocess
    mode; None in a single process. prometheus_client decides it once, when it is first
    imported (from PROMETHEUS_MULTIPROC_DIR): this asks what it decided."""
    if values.ValueClass is values.MutexValue:
        return None
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(directory) if directory else None


def render(registry: CollectorRegistry) -> bytes:
    """The scrape: `registry`'s metrics, or every worker's, added up, in multiprocess mode."""
    directory = multiprocess_directory()
    if directory is None:
        return generate_latest(registry)
    forget_dead_workers(directory)
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(merged)


def forget_dead_workers(directory: Path) -> None:
    """Mark every process that wrote values here and is gone as dead."""
    pids = {
        int(match.group(1)) for path in directory.iterdir() if (match := _PID.search(path.name))
    }
    for pid in pids - {os.getpid()}:
        if not _alive(pid):
            mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]


def leave(directory: Path | None) -> None:
    """This worker is stopping: its live gauges stop counting."""
    if directory is not None:
        mark_process_dead(os.getpid(), str(directory))  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
