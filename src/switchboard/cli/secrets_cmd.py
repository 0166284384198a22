"""`switchboard secrets …` and `switchboard init-env`: keys for secrets at rest."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from switchboard.cli._context import console, load_settings, reported_errors, session_for
from switchboard.secrets import generate_key, get_secret_manager

app = typer.Typer(help="Encryption keys for stored secrets.", no_args_is_help=True)


@app.command("generate-key")
def generate() -> None:
    """Print a new key for ENCRYPTION_KEY."""
    console().print(generate_key(), highlight=False)


@app.command()
def rotate() -> None:
    """Re-encrypt every stored secret under the first key of ENCRYPTION_KEY.

    To rotate: put a new key first (`ENCRYPTION_KEY=new,old`), run this, then drop the old key.
    """
    from switchboard.services.secret_rotation import rotate_secrets

    settings = load_settings()
    with reported_errors():
        manager = get_secret_manager(settings)
        with session_for(settings) as session:
            report = rotate_secrets(session, manager)
    console().print(
        f"re-encrypted {report.provider_keys} provider key(s) and {report.user_keys} user key(s),"
        f" and {report.webhook_secrets} alert webhook secret(s)"
    )


def init_env(
    path: Annotated[Path, typer.Option(help="The file to write.")] = Path(".env"),
) -> None:
    """Write a local .env with a new ENCRYPTION_KEY and ADMIN_TOKEN, unless it exists."""
    if path.exists():
        console().print(f"{path} exists; left as it is")
        return
    content = (
        "# Written by `switchboard init-env`. Keep it private: it holds the keys to your secrets.\n"
        f"ENCRYPTION_KEY={generate_key()}\n"
        f"ADMIN_TOKEN=sb-admin-{secrets.token_urlsafe(24)}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(content)
    console().print(f"wrote {path} (mode 0600) with a new ENCRYPTION_KEY and ADMIN_TOKEN")
