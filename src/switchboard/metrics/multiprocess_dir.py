"""The directory that worker processes keep their metric values in, made by `switchboard
serve` for one start of the server: emptied when it starts (a previous start's values must not
count again), named in PROMETHEUS_MULTIPROC_DIR before any worker imports prometheus_client
(it reads the variable once, on import), and removed when the server exits."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


@contextmanager
def multiprocess_dir(configured: Path | None) -> Iterator[Path]:
    """`configured` (METRICS_DIR), emptied, or a new temporary directory; in the environment
    the workers inherit for as long as the block runs, then emptied (`configured`) or
    removed."""
    if configured is None:
        directory = Path(tempfile.mkdtemp(prefix="switchboard-metrics-"))
    else:
        directory = configured
        _empty(directory)
        directory.mkdir(parents=True, exist_ok=True)
    previous = os.environ.get(VARIABLE)
    os.environ[VARIABLE] = str(directory)
    try:
        yield directory
    finally:
        if previous is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = previous
        if configured is None:
            shutil.rmtree(directory, ignore_errors=True)
        else:
            _empty(directory)


def _empty(directory: Path) -> None:
    """Remove the metric files in `directory` (and nothing else: it may be shared)."""
    if directory.is_dir():
        for path in directory.glob("*.db"):
            path.unlink(missing_ok=True)
