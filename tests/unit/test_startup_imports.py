"""What `python -m switchboard serve` loads before uvicorn starts: the gateway's time to ready
counts every import, so the command line leaves out what only other commands need."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_line_loads_neither_rich_nor_alembic() -> None:
    check = (
        "import sys\n"
        "import switchboard.cli\n"
        "loaded = sorted({'rich', 'alembic', 'uvicorn'} & sys.modules.keys())\n"
        "assert not loaded, loaded\n"
    )
    _passes_in_a_fresh_interpreter(check)


def test_the_command_line_leaves_prometheus_client_to_the_workers() -> None:
    """prometheus_client picks per-process files or memory once, on import, by
    PROMETHEUS_MULTIPROC_DIR, which `serve` sets only after the command line is loaded."""
    check = (
        "import sys\n"
        "import switchboard.cli\n"
        "import switchboard.metrics.multiprocess_dir\n"
        "assert 'prometheus_client' not in sys.modules\n"
    )
    _passes_in_a_fresh_interpreter(check)


def _passes_in_a_fresh_interpreter(check: str) -> None:
    """Run `check` in a new Python process: what this one has imported must not count."""
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
