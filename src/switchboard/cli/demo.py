"""`switchboard demo`: a demo user and key (made once, the key kept in .env), and how to call."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from switchboard.cli._context import console, load_settings, session_for
from switchboard.models import User
from switchboard.services.users import create_user, find_valid_key, issue_virtual_key
from switchboard.vocabulary import Tier

DEMO_USER = "demo"
DEMO_KEY_VARIABLE = "SWITCHBOARD_DEMO_KEY"


def demo(
    env_file: Annotated[Path, typer.Option(help="Where the demo key is kept.")] = Path(".env"),
) -> None:
    """Make sure a demo user and key exist, and print how to call the gateway with them (it
    does not start the gateway: `switchboard serve` does)."""
    settings = load_settings()
    key = _read_variable(env_file, DEMO_KEY_VARIABLE)
    with session_for(settings) as session:
        if session.get(User, DEMO_USER) is None:
            create_user(
                session, user_id=DEMO_USER, tier=Tier.PROFESSIONAL, display_name="Demo user"
            )
        if key is None or find_valid_key(session, key) is None:
            key = issue_virtual_key(session, user_id=DEMO_USER, name="make run demo").key
            with env_file.open("a") as file:
                file.write(f"{DEMO_KEY_VARIABLE}={key}\n")
    base = f"http://{settings.host}:{settings.port}"
    console().print(
        f"""
[bold]The gateway's address: {base}[/]
This command does not start it: `switchboard serve` does (`make run` runs it next).

Demo key for user '{DEMO_USER}' (professional tier), kept in {env_file} as {DEMO_KEY_VARIABLE}:
  {key}

Try it with curl:
  curl -s {base}/v1/chat/completions \\
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
    -d '{{"model": "balanced", "messages": [{{"role": "user", "content": "Hello!"}}]}}'

Or with the openai SDK:
  from openai import OpenAI
  client = OpenAI(base_url="{base}/v1", api_key="{key}")
  print(client.chat.completions.create(
      model="eco", messages=[{{"role": "user", "content": "Hello!"}}]).choices[0].message.content)
""",
        highlight=False,
        soft_wrap=True,
    )


def _read_variable(path: Path, name: str) -> str | None:
    if not path.exists():
        return None
    value = None
    for line in path.read_text().splitlines():
        if line.startswith(f"{name}="):
            value = line.split("=", 1)[1].strip() or None
    return value
