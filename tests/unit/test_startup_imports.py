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
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_command_line_leaves_prometheus_client_to_the_workers() -> None:
    """prometheus_client picks per-process files or memory once, on import, by
    PROMETHEUS_MULTIPROC_DIR, which `serve` sets only after the command line is loaded."""
    check = (
        "import sys\n"
        "import switchboard.cli\n"
        "import switchboard.metrics.multiprocess_dir\n"
        "assert 'prometheus_client' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
