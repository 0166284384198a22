"""What every end-to-end world is built on: the module's database and encryption key, a fake
OpenAI-compatible upstream already running, and gateways started on them. A module's `world`
fixture takes the `stage` fixture, writes its catalog and starts the gateways it needs."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import openai
from sqlalchemy.orm import Session, sessionmaker

from switchboard.secrets import SecretManager
from tests.e2e.catalog_rows import CatalogRows
from tests.e2e.harness import GatewayProcess, running_gateway
from tests.fake_upstream import FakeUpstream, Scripted


@dataclass(frozen=True)
class ServedWorld:
    """A gateway with the stage's fake behind it and one user's SDK client in front: what most
    worlds are; a module's `World` adds what it made besides."""

    gateway: GatewayProcess
    fake: FakeUpstream
    key: str
    sdk: openai.OpenAI


@dataclass(frozen=True)
class Stage:
    database_url: str
    sessions: sessionmaker[Session]
    encryption_key: str
    secrets: SecretManager
    """Encrypts provider and BYOK keys as the gateway will decrypt them."""
    fake: FakeUpstream
    workdir: Path
    """The module's own folder: each gateway's spool and log go in a folder of it."""

    def script(self, replies: Mapping[str, Scripted]) -> None:
        """What the fake answers for each model, unless a test scripts otherwise."""
        for model, reply in replies.items():
            self.fake.set_default(model, reply)

    @contextmanager
    def catalog(self) -> Iterator[CatalogRows]:
        """Rows added in one session, committed at the end of the block; providers point at
        the fake unless told otherwise."""
        with self.sessions() as session:
            yield CatalogRows(session, self.secrets, self.fake.url)
            session.commit()

    @contextmanager
    def gateway(
        self, env: Mapping[str, str] | None = None, *, name: str = "gateway"
    ) -> Iterator[GatewayProcess]:
        """A gateway process on the module's database, which reads the catalog already committed
        (so no test waits for a reload), stopped at the end of the block."""
        with running_gateway(
            self.database_url,
            self.workdir / name,
            {"ENCRYPTION_KEY": self.encryption_key, **(env or {})},
        ) as gateway:
            yield gateway
