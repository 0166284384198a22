"""The `switchboard` command line run in-process, as the command-line tests run it, or as a
separate process where what matters is a real one (its stdout a pipe, its own environment)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

from typer.testing import CliRunner

from switchboard.cli import app


def invoke(*args: str) -> tuple[int, str]:
    """The exit code and what `switchboard <args>` printed."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def run_in_a_process(env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`switchboard <args>` as its own process with exactly `env`, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", "switchboard", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
