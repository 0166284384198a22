"""The root `switchboard` command and its groups."""

from __future__ import annotations

import typer

from switchboard.cli import (
    accounts,
    alerts,
    catalog,
    catalog_sync,
    database,
    demo,
    limits,
    providers,
    secrets_cmd,
    serve,
    usage,
)

app = typer.Typer(
    name="switchboard",
    help="Switchboard: a multi-tenant LLM gateway.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(database.app, name="db")
app.add_typer(accounts.users_app, name="users")
app.add_typer(accounts.keys_app, name="keys")
app.add_typer(secrets_cmd.app, name="secrets")
app.add_typer(providers.providers_app, name="providers")
app.add_typer(providers.models_app, name="models")
app.add_typer(usage.app, name="usage")
app.add_typer(catalog_sync.catalog_app, name="catalog")
app.add_typer(limits.app, name="limits")
app.add_typer(alerts.app, name="alerts")
app.command("seed")(catalog.seed)
app.command("explain")(catalog.explain)
app.command("init-env")(secrets_cmd.init_env)
app.command("serve")(serve.serve)
app.command("demo")(demo.demo)


def main() -> None:
    app()
