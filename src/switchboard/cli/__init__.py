"""The `switchboard` command line. Each command builds its settings once and passes them down."""

from switchboard.cli.app import app, main

__all__ = ["app", "main"]
