"""What the console keeps for the app's lifetime, made by `create_app` from the settings: its
templates, the session codec and the sign-in throttle."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import jinja2
from starlette.templating import Jinja2Templates

from switchboard.console.sessions import SessionCodec, signing_key
from switchboard.console.throttle import SignInThrottle
from switchboard.redaction import mask_url
from switchboard.settings import Settings

TEMPLATES_DIR = Path(__file__).parent / "templates"


@dataclass(frozen=True, slots=True)
class ConsoleState:
    templates: Jinja2Templates
    sessions: SessionCodec
    throttle: SignInThrottle
    session_ttl_s: float


def build_console_state(settings: Settings) -> ConsoleState:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.filters["masked_url"] = mask_url
    return ConsoleState(
        templates=Jinja2Templates(env=environment),
        sessions=SessionCodec(signing_key(settings)),
        throttle=SignInThrottle(
            free_failures=settings.console_free_sign_in_failures, clock=time.monotonic
        ),
        session_ttl_s=settings.console_session_ttl_s,
    )
