"""The `switchboard` command line run in-process, as the command-line tests run it."""

from __future__ import annotations

from typer.testing import CliRunner

from switchboard.cli import app


def invoke(*args: str) -> tuple[int, str]:
    """The exit code and what `switchboard <args>` printed."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output
